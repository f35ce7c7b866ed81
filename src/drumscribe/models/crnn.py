"""CRNN: two conv blocks (576 features per frame) then the bidirectional RNN decoder (SPEC section 6)."""

from __future__ import annotations

import torch
from torch import nn

from .blocks import CONV_CHANNELS_STEP, NUM_BANDS, ConvFrontend, RecurrentDecoder

CRNN_CONV_BLOCKS = 2


class CRNN(nn.Module):
    """(B, 1, T, 84) -> 2 conv blocks -> bidirectional GRU/LSTM -> Linear(2H -> 5) -> (B, T, 5).

    ``conv_channels`` is the first block's channel count (the second has twice as many); the SPEC's CRNN
    uses 32.
    """

    def __init__(
        self,
        num_layers: int = 3,
        hidden_size: int = 288,
        cell: str = "lstm",
        num_bands: int = NUM_BANDS,
        conv_channels: int = CONV_CHANNELS_STEP,
    ):
        super().__init__()
        self.frontend = ConvFrontend(CRNN_CONV_BLOCKS, num_bands, conv_channels)
        self.decoder = RecurrentDecoder(self.frontend.out_features, num_layers, hidden_size, cell)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.decoder_input(x))

    def decoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, 576): the conv features the recurrent decoder reads."""
        return self.frontend(x)
