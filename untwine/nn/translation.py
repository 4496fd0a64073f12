"""Interventions on features of a code, and the image-translation difficulty (seed 004).

A code z of ``K_Z`` features of ``D_Z`` dims each (``feature_size``): feature k is the dims
``[k D_Z, (k+1) D_Z)``. An *intervention* ``do(Z_k = value)`` sets feature k and leaves the rest.

Image translation task (Definition 1, Eq. 2; Algorithm 1): for feature k and two of its values
``z_k^a, z_k^b`` drawn from its marginal, each image's code gives a pair
``u = Dec(z; Z_k = z_k^a)``, ``v = Dec(z; Z_k = z_k^b)``. A small translation network M is fitted
for ``s`` steps of gradient descent (learning rate alpha) on the pairs of one mini-batch D and
scored on the pairs of a second mini-batch D~:

    L_trans(theta_M) = E crossentropy(v, M(u)),    L_diff = L_trans on D~ after s steps on D.

If Z is disentangled, u and v differ in one factor only and M's task is easy.

Choices the paper leaves open (named options of :func:`translation_difficulty`):

* M = ``logit(u) + f(u)``, f three 3x3 convolutions (``hidden`` channels, ReLU), its last layer
  initialised to zero: M starts as the identity, so L_diff measures how much of the change from
  u to v the few steps cannot explain. M is initialised afresh for every task, from a generator
  (the same numbers for the same seed).
* The inner fit minimises the per-pixel mean cross-entropy (independent of the image size, so
  one alpha fits every dataset), by plain gradient descent as Algorithm 1 writes it; the returned
  L_diff is the cross-entropy summed over pixels, mean over images (the reconstruction loss's
  reduction). ``kl`` is the same minus the entropy of v: it does not reward blurry decoders, whose
  v have a higher entropy.
* First order: the fitted weights are constants in L_diff; gradients reach the encoder and
  decoder through u~ and v~ only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def feature_slice(k: int, feature_size: int) -> slice:
    """The code dims of feature ``k``."""
    return slice(k * feature_size, (k + 1) * feature_size)


def intervene(z: torch.Tensor, k: int, value: torch.Tensor, feature_size: int = 1) -> torch.Tensor:
    """``do(Z_k = value)`` on every row of z: a copy with feature k set to ``value`` ((D_Z,) or (N, D_Z))."""
    out = z.clone()
    out[:, feature_slice(k, feature_size)] = value
    return out


def swap_features(z: torch.Tensor, source: torch.Tensor, k: torch.Tensor, feature_size: int = 1) -> torch.Tensor:
    """Per row i, feature ``k[i]`` of z replaced by that of ``source[i]`` (differentiable in both)."""
    num_features = z.shape[1] // feature_size
    mask = F.one_hot(k, num_features).to(z.dtype).repeat_interleave(feature_size, dim=1)
    return z * (1 - mask) + source * mask


# ---- the translation network M, written functionally (its weights are plain tensors) ------------
def init_translation_net(channels: int, hidden: int = 16, generator: torch.Generator | None = None,
                         device: torch.device | str = "cpu") -> list[torch.Tensor]:
    """Weights of f: conv3x3 C->h, h->h (uniform fan-in init, as PyTorch's layers), h->C (zero)."""
    params = []
    for cin, cout in ((channels, hidden), (hidden, hidden)):
        bound = 1.0 / math.sqrt(cin * 9)
        w = (torch.rand(cout, cin, 3, 3, generator=generator) * 2 - 1) * bound
        b = (torch.rand(cout, generator=generator) * 2 - 1) * bound
        params += [w.to(device), b.to(device)]
    params += [torch.zeros(channels, hidden, 3, 3, device=device), torch.zeros(channels, device=device)]
    return params


def translation_logits(u_logits: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
    """M(u) as logits: ``u_logits + f(sigmoid(u_logits))``."""
    h = torch.sigmoid(u_logits)
    h = F.relu(F.conv2d(h, params[0], params[1], padding=1))
    h = F.relu(F.conv2d(h, params[2], params[3], padding=1))
    return u_logits + F.conv2d(h, params[4], params[5], padding=1)


def _cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image summed cross-entropy (N,)."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).sum(1)


def _entropy(p: torch.Tensor) -> torch.Tensor:
    p = p.clamp(1e-6, 1 - 1e-6)
    return -(p * p.log() + (1 - p) * (1 - p).log()).flatten(1).sum(1)


def image_change(u_logits: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The KL of v from u, per image, mean over images: the translation's difficulty before any
    fitting (M the identity), i.e. how much changing the feature changes the images."""
    u_logits, v = u_logits.float(), v.float()
    return (_cross_entropy(u_logits, v) - _entropy(v)).mean()


def fit_translation(u_logits: torch.Tensor, v: torch.Tensor, steps: int, lr: float, hidden: int = 16,
                    generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """Algorithm 1's inner loop: ``steps`` gradient-descent steps of M on the pairs (u, v) (detached)."""
    u_logits, v = u_logits.detach().float(), v.detach().float()
    params = init_translation_net(v.shape[1], hidden, generator, v.device)
    with torch.enable_grad():
        for _ in range(steps):
            params = [p.requires_grad_(True) for p in params]
            loss = F.binary_cross_entropy_with_logits(translation_logits(u_logits, params), v)
            grads = torch.autograd.grad(loss, params)
            params = [(p - lr * g).detach() for p, g in zip(params, grads)]
    return params


def translation_difficulty(u_logits: torch.Tensor, v: torch.Tensor, u_test_logits: torch.Tensor,
                           v_test: torch.Tensor, steps: int = 5, lr: float = 1.0, hidden: int = 16,
                           generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Algorithm 1: fit M on (u, v), return its loss on (u~, v~): ``{"cross_entropy", "kl"}``, each
    the mean over images of the per-image sum over pixels; differentiable in u~ and v~ (first order).

    ``u_logits``: decoder logits of u; ``v``: the target images in [0, 1] (probabilities).
    """
    if steps < 1:
        raise ValueError(f"the translation network needs s >= 1 fitting steps, got {steps}")
    params = fit_translation(u_logits, v, steps, lr, hidden, generator)
    ce = _cross_entropy(translation_logits(u_test_logits.float(), params), v_test.float())
    return {"cross_entropy": ce.mean(), "kl": (ce - _entropy(v_test.float())).mean()}
