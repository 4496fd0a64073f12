"""Generation with a model whose prior is a mixture over entities and whose ReL moves codes (seed 000).

* :func:`component_samples`: decode samples of chosen prior components (one row per component);
* :func:`relation_chain`: encode an image, apply a relation ``steps`` times feeding the ReL's output
  back in, decode every code (the paper's Figs. 4-5); binary relations take a fixed right operand
  (a component's mean) and the operator's component mean.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch


@torch.no_grad()
def component_samples(method: Any, components: Sequence[int] | None = None, per_component: int = 6,
                      seed: int = 0) -> torch.Tensor:
    """Images (len(components) * per_component, C, H, W) in [0, 1]: samples of each component, decoded."""
    method.eval()
    ks = torch.as_tensor(list(range(method.num_entities)) if components is None else list(components), dtype=torch.long)
    gen = torch.Generator(device=method.prior.means.device).manual_seed(seed)
    z = method.prior.sample_component(ks.repeat_interleave(per_component).to(gen.device), gen)
    return torch.sigmoid(method.decode(z)).float().cpu()


@torch.no_grad()
def relation_chain(method: Any, image: torch.Tensor, relation: int, steps: int = 5, right_entity: int = 1
                   ) -> tuple[torch.Tensor, list[int]]:
    """Images (steps + 1, C, H, W): the image's reconstruction, then each ReL application decoded;
    and the entity each code is classified as (the chain read symbolically)."""
    method.eval()
    z = method.encode(image[None].to(method.prior.means.device))
    codes = [z]
    rel = torch.tensor([relation], device=z.device)
    for _ in range(steps):
        if method.arity == 1:
            z = method.relate(rel, z)
        else:
            right = method.prior.means[right_entity][None]
            op = method.prior.means[int(method.relation_entities[relation])][None]
            z = method.relate(rel, z, right, op)
        codes.append(z)
    z = torch.cat(codes)
    entities, _ = method.prior.classify(z)
    return torch.sigmoid(method.decode(z)).float().cpu(), entities.tolist()
