"""The five architectures of SPEC section 6 and a registry by name.

Every model takes standardised features (B, 1, T, 84) and returns logits (B, T, 5) for any T::

    from drumscribe.models import build_model, default_params
    net = build_model("crnn", **default_params("crnn"))

Parameter names per architecture (and their search spaces in :data:`SEARCH_SPACES`):

* ``rnn``, ``crnn``: ``num_layers`` (L), ``hidden_size`` (H), ``cell`` ("gru" | "lstm"); ``crnn`` also
  ``conv_channels`` (first conv block's channels, 32 in the SPEC; the default model uses fewer for speed)
* ``cnn``: ``num_blocks`` (I), ``num_layers`` (L), ``hidden_size`` (H)
* ``ct``: ``num_heads``, ``num_layers`` (L), ``embed_dim`` (D_e)
* ``vit``: ``patch_size`` (P), ``num_heads``, ``num_layers`` (L), ``embed_dim`` (D_e)

Defaults are the configurations the thesis chose on ENST+MDB (SPEC section 6 table).
"""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from ..errors import ConfigError
from .blocks import NUM_BANDS
from .cnn import CNN
from .crnn import CRNN
from .rnn import RNN
from .transformer import ConvTransformer, VisionTransformer

#: Architecture name -> model class.
ARCHITECTURES: dict[str, type[nn.Module]] = {
    "rnn": RNN,
    "cnn": CNN,
    "crnn": CRNN,
    "ct": ConvTransformer,
    "vit": VisionTransformer,
}

_TRANSFORMER_SPACE: dict[str, list[Any]] = {
    "num_heads": [2, 4, 6, 8],
    "num_layers": [2, 4, 6, 8, 10],
    "embed_dim": [72, 144, 288, 576],
}

#: SPEC section 6 search spaces (the research code's, i.e. the final thesis's, values).
SEARCH_SPACES: dict[str, dict[str, list[Any]]] = {
    "rnn": {"num_layers": [2, 3, 4, 5, 6], "hidden_size": [72, 144, 288, 576], "cell": ["gru", "lstm"]},
    "cnn": {"num_blocks": [1, 2, 3], "num_layers": [1, 2, 3, 4], "hidden_size": [72, 144, 288, 576]},
    "crnn": {"num_layers": [2, 3, 4, 5], "hidden_size": [72, 144, 288, 576], "cell": ["gru", "lstm"]},
    "ct": dict(_TRANSFORMER_SPACE),
    "vit": {"patch_size": [7, 14, 21], **_TRANSFORMER_SPACE},
}


def _check_arch(arch: str) -> type[nn.Module]:
    cls = ARCHITECTURES.get(arch)
    if cls is None:
        raise ConfigError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    return cls


def default_params(arch: str) -> dict[str, Any]:
    """The architecture's default parameters (its constructor defaults, without ``num_bands``)."""
    cls = _check_arch(arch)
    sig = inspect.signature(cls.__init__)
    return {
        name: p.default
        for name, p in sig.parameters.items()
        if name not in ("self", "num_bands") and p.default is not inspect.Parameter.empty
    }


def valid_params(arch: str, params: dict[str, Any]) -> bool:
    """Whether ``params`` build a model: heads divide D_e; for vit, P divides 84 and n_P = 84/P divides D_e."""
    full = {**default_params(arch), **params}
    if arch in ("ct", "vit") and full["embed_dim"] % full["num_heads"]:
        return False
    if arch == "vit":
        if NUM_BANDS % full["patch_size"]:
            return False
        if full["embed_dim"] % (NUM_BANDS // full["patch_size"]):
            return False
    return True


def build_model(arch: str, **params: Any) -> nn.Module:
    """Build architecture ``arch`` with ``params`` (missing ones take their defaults); unknown keys are an error."""
    cls = _check_arch(arch)
    known = set(default_params(arch)) | {"num_bands"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {', '.join(unknown)} for {arch!r}; known: {', '.join(sorted(known))}"
        )
    if "cell" in params:
        params = {**params, "cell": str(params["cell"]).lower()}
    if not valid_params(arch, params):
        raise ConfigError(f"invalid parameters for {arch!r}: {params} (heads/patches must divide embed_dim)")
    try:
        return cls(**params)
    except ValueError as exc:
        raise ConfigError(f"invalid parameters for {arch!r}: {exc}") from exc


def count_parameters(net: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``net``."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad or not trainable_only)


__all__ = [
    "ARCHITECTURES",
    "SEARCH_SPACES",
    "build_model",
    "count_parameters",
    "default_params",
    "valid_params",
]
