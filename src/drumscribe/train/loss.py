"""The training loss of SPEC section 5: BCE with per-frame infrequency weights.

w_c = 1 / H(p_c), H the natural-log binary entropy of the share p_c of frames whose target is exactly 1.
Per frame, omega_t = max(1, sum_c y_tc w_c); the batch loss is the mean over (B, T) of omega_t times the
class-summed BCE. The validation loss is the same without omega.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data.store import entropy_class_weights as infrequency_weights  # noqa: F401 (the loss's w_c)


def weighted_bce_loss(
    logits: torch.Tensor, targets: torch.Tensor, class_weights: torch.Tensor
) -> torch.Tensor:
    """Mean over (B, T) of omega_t * sum_c BCEWithLogits(logits, targets); shapes (B, T, C) and (C,)."""
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(dim=-1)
    omega = torch.clamp((targets * class_weights).sum(dim=-1), min=1.0)
    return (bce * omega).mean()


def unweighted_bce_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over frames of the class-summed BCE (the validation loss)."""
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(dim=-1).mean()
