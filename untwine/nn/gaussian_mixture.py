"""Full-covariance Gaussian mixture with uniform weights: the adaptive prior of the Abstraction
Autoencoder (seed 000, Valenti & Bacciu 2022).

After the warm-up the prior has one component per entity (factor combination), its mean and
covariance computed from the codes of a few labelled samples of that entity
(``Sigma_k = cov_scale * S_k + ridge * I``, ``S_k`` the sample covariance with the n-1
denominator, as ``numpy.cov``). The components are fixed, not trained: they are held as buffers,
so they are part of a checkpoint (``state_dict``) and move with ``.to(device)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .precision import full_precision

THRESHOLDS = ("density", "responsibility")


class GaussianMixture(nn.Module):
    """Uniform mixture of ``num_components`` full-covariance Gaussians in ``dim`` dimensions.

    Buffers: ``means`` (K, d), ``scale_tril`` (K, d, d) lower Cholesky factors of the covariances,
    ``fitted`` (bool scalar). Initialised to standard normals at the origin (usable before ``fit``).
    """

    means: Tensor
    scale_tril: Tensor
    fitted: Tensor

    def __init__(self, num_components: int, dim: int) -> None:
        super().__init__()
        if num_components < 1 or dim < 1:
            raise ValueError(f"num_components and dim must be >= 1, got {num_components} and {dim}")
        self.num_components = int(num_components)
        self.dim = int(dim)
        self.register_buffer("means", torch.zeros(num_components, dim))
        self.register_buffer("scale_tril", torch.eye(dim).repeat(num_components, 1, 1))
        self.register_buffer("fitted", torch.tensor(False))

    def extra_repr(self) -> str:
        return f"num_components={self.num_components}, dim={self.dim}, fitted={bool(self.fitted)}"

    @property
    def covariances(self) -> Tensor:
        """Component covariances (K, d, d), ``L L^T``."""
        return self.scale_tril @ self.scale_tril.mT

    # ------------------------------------------------------------------ fitting
    @torch.no_grad()
    def fit(self, codes: Tensor, labels: Tensor, cov_scale: float = 0.1, ridge: float = 1e-4,
            min_samples: int = 2) -> None:
        """Set component k to ``N(mean_k, cov_scale * S_k + ridge * I)`` from the codes labelled k.

        ``codes`` (N, d), ``labels`` (N,) integer component indices in [0, K). Moments are computed
        in float64. Every component needs at least ``min_samples`` codes; a component of one code
        (allowed with ``min_samples=1``) has S_k = 0, so its covariance is ``ridge * I``.
        """
        K, d = self.num_components, self.dim
        if codes.ndim != 2 or codes.shape[1] != d:
            raise ValueError(f"codes must have shape (N, {d}), got {tuple(codes.shape)}")
        if labels.shape != codes.shape[:1] or labels.is_floating_point() or labels.is_complex():
            raise ValueError(f"labels must be an integer tensor of shape ({codes.shape[0]},), "
                             f"got {labels.dtype} {tuple(labels.shape)}")
        if min_samples < 1:
            raise ValueError(f"min_samples must be >= 1, got {min_samples}")
        if not cov_scale > 0 or not ridge >= 0:
            raise ValueError(f"need cov_scale > 0 and ridge >= 0, got {cov_scale} and {ridge}")
        codes = codes.detach().to(self.means.device, torch.float64)
        labels = labels.detach().to(self.means.device, torch.long)
        if labels.numel() and (labels.min() < 0 or labels.max() >= K):
            raise ValueError(f"labels must lie in [0, {K}), got range [{int(labels.min())}, {int(labels.max())}]")
        if not torch.isfinite(codes).all():
            raise ValueError("codes contain NaN or inf")
        counts = torch.bincount(labels, minlength=K)
        short = torch.nonzero(counts < min_samples).flatten().tolist()
        if short:
            shown = ", ".join(f"{k} ({int(counts[k])} codes)" for k in short[:20])
            more = f" and {len(short) - 20} more" if len(short) > 20 else ""
            raise ValueError(
                f"GaussianMixture.fit: {len(short)} component(s) have fewer than min_samples={min_samples} "
                f"codes: {shown}{more}. Label more samples per entity (every factor combination needs at "
                f"least {min_samples}, and more than dim={d} for a non-degenerate covariance).")
        order = torch.argsort(labels, stable=True)
        groups = codes[order].split(counts.tolist())
        means = torch.stack([g.mean(0) for g in groups])
        scatter = torch.stack([(g - m).T @ (g - m) for g, m in zip(groups, means)])
        cov = cov_scale * scatter / (counts.to(codes.dtype) - 1).clamp(min=1)[:, None, None]  # one code: S = 0
        cov = cov + ridge * torch.eye(d, dtype=codes.dtype, device=codes.device)
        L, info = torch.linalg.cholesky_ex(cov)
        if (info != 0).any():
            bad = torch.nonzero(info).flatten().tolist()
            raise ValueError(f"GaussianMixture.fit: covariance of component(s) {bad[:20]} is not positive "
                             f"definite; use ridge > 0 or more labelled samples per entity")
        self.means.copy_(means)
        self.scale_tril.copy_(L)
        self.fitted.fill_(True)

    # ------------------------------------------------------------------ densities
    @full_precision
    def log_prob_components(self, z: Tensor) -> Tensor:
        """``log N(z_n; mu_k, Sigma_k)`` for every code and component: (N, d) -> (N, K)."""
        dtype = torch.promote_types(z.dtype, self.means.dtype)
        z = z.to(dtype)
        mu, L = self.means.to(dtype), self.scale_tril.to(dtype)
        diff = (z[None, :, :] - mu[:, None, :]).mT  # (K, d, N)
        y = torch.linalg.solve_triangular(L, diff, upper=False)  # L^{-1} (z - mu)
        maha = y.square().sum(1)  # (K, N)
        half_logdet = L.diagonal(dim1=-2, dim2=-1).log().sum(-1)  # (K,)
        out = -0.5 * (maha + self.dim * math.log(2 * math.pi)) - half_logdet[:, None]
        return out.T

    def log_prob(self, z: Tensor) -> Tensor:
        """Log density of the uniform mixture (N,): ``logsumexp_k log N(z; mu_k, Sigma_k) - log K``."""
        return torch.logsumexp(self.log_prob_components(z), dim=1) - math.log(self.num_components)

    def responsibilities(self, z: Tensor) -> Tensor:
        """Posterior ``p(k | z)`` (N, K) under uniform weights."""
        return torch.softmax(self.log_prob_components(z), dim=1)

    # ------------------------------------------------------------------ sampling
    def sample_component(self, components: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``z_n = mu_{c_n} + L_{c_n} eps_n``, eps ~ N(0, I): one code (n, d) per given component."""
        components = self._check_components(components)
        eps = self._randn((components.shape[0], self.dim), generator)
        return self.means[components] + (self.scale_tril[components] @ eps[..., None]).squeeze(-1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               components: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Draw ``n`` codes from the mixture (component uniform, or the given ``components`` (n,)).

        Returns ``(z (n, d), components (n,))``; deterministic for a seeded ``generator`` (which may
        live on any device: draws are made there and moved to the buffers' device).
        """
        if components is None:
            device = generator.device if generator is not None else self.means.device
            components = torch.randint(self.num_components, (n,), generator=generator, device=device)
            components = components.to(self.means.device)
        elif components.shape != (n,):
            raise ValueError(f"components must have shape ({n},), got {tuple(components.shape)}")
        components = self._check_components(components)
        return self.sample_component(components, generator), components

    def _randn(self, shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
        device = generator.device if generator is not None else self.means.device
        eps = torch.randn(shape, generator=generator, device=device, dtype=self.means.dtype)
        return eps.to(self.means.device)

    def _check_components(self, components: Tensor) -> Tensor:
        if components.ndim != 1 or components.is_floating_point():
            raise ValueError(f"components must be a 1-D integer tensor, got {components.dtype} "
                             f"{tuple(components.shape)}")
        components = components.to(self.means.device, torch.long)
        if components.numel() and (components.min() < 0 or components.max() >= self.num_components):
            raise ValueError(f"components must lie in [0, {self.num_components})")
        return components

    # ------------------------------------------------------------------ classification
    @torch.no_grad()
    def classify(self, z: Tensor, alpha: float = 0.0, threshold: str = "density") -> tuple[Tensor, Tensor]:
        """Most likely component (N,) and whether the code is accepted (N,) bool.

        ``"density"`` (default, as the reference code): accepted iff the best component's density
        ``N(z; mu_k*, Sigma_k*) >= alpha``; the paper calls alpha a probability, but this is a
        density value and can exceed 1 in a low-variance component. ``"responsibility"`` (option):
        accepted iff ``max_k p(k | z) >= alpha`` under uniform weights. ``alpha = 0`` accepts all.
        """
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        if threshold not in THRESHOLDS:
            raise ValueError(f"threshold must be one of {THRESHOLDS}, got {threshold!r}")
        lp = self.log_prob_components(z)
        best, predicted = lp.max(dim=1)
        if threshold == "density":
            log_alpha = math.log(alpha) if alpha > 0 else -math.inf
            accepted = best >= log_alpha
        else:
            accepted = torch.softmax(lp, dim=1).max(dim=1).values >= alpha
        if alpha == 0:
            accepted = torch.ones_like(accepted)
        return predicted, accepted
