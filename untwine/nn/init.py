"""Weight initialisation schemes for the encoders, heads and decoders.

* ``torch``: PyTorch's layer defaults (Kaiming-uniform with ``a = sqrt(5)`` for weights, a
  fan-in-scaled uniform for biases); nothing is redrawn.
* ``glorot``: Glorot/Xavier-uniform weights, ``U(-b, b)`` with ``b = sqrt(6 / (fan_in + fan_out))``
  (a conv kernel's fans include its receptive field), and zero biases -- the Keras defaults
  (``glorot_uniform``, ``zeros``) of disentanglement_lib's and WeLa-VAE's TensorFlow layers.

The scheme is applied after the layers are built, so it draws from the global torch generator in
module order: the same seed gives the same parameters.
"""

from __future__ import annotations

from torch import nn

INIT_SCHEMES = ("torch", "glorot")
_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def initialize(module: nn.Module, scheme: str) -> nn.Module:
    """Re-initialise every dense and (transposed) conv layer of ``module`` by ``scheme``; returns it."""
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; choose one of {', '.join(INIT_SCHEMES)}")
    if scheme == "torch":
        return module
    for m in module.modules():
        if isinstance(m, _LAYERS):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module
