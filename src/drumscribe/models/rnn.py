"""RNN: a bidirectional GRU/LSTM over the 84 bands of each frame (SPEC section 6)."""

from __future__ import annotations

import torch
from torch import nn

from .blocks import NUM_BANDS, RecurrentDecoder


class RNN(nn.Module):
    """(B, 1, T, 84) -> bidirectional GRU/LSTM (``num_layers`` x ``hidden_size``) -> logits (B, T, 5)."""

    def __init__(
        self, num_layers: int = 2, hidden_size: int = 576, cell: str = "gru", num_bands: int = NUM_BANDS
    ):
        super().__init__()
        self.decoder = RecurrentDecoder(num_bands, num_layers, hidden_size, cell)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.decoder_input(x))

    def decoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, 84): the frames the recurrent decoder reads."""
        return x[:, 0]
