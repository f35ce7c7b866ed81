"""Building blocks shared by the architectures (SPEC section 6).

* :class:`ConvBlock`: two 3x3 convolutions (no bias) each followed by ReLU and BatchNorm, then a
  frequency-only 1x3 max-pool and 2-D dropout 0.3.
* :class:`ConvFrontend`: ``num_blocks`` conv blocks with 32, 64, 96 channels; (B, 1, T, 84) -> (B, T, C*F).
* :class:`SinusoidalPositionalEncoding`: sin on even, cos on odd dimensions, base 10000, no dropout;
  grows beyond ``max_len`` frames on demand so any sequence length works.
* :class:`TransformerBlock`: pre-LayerNorm self-attention and GELU feed-forward (4x), dropout 0.1 on
  both residual branches, attention dropout 0, no mask.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..vocab import NUM_CLASSES

#: Number of log-frequency bands of the features (SPEC section 1, 12 bands/octave, 20 Hz - 20 kHz).
NUM_BANDS = 84
#: Channels of conv block i are ``CONV_CHANNELS_STEP * i``.
CONV_CHANNELS_STEP = 32
FREQ_POOL = 3
CONV_DROPOUT = 0.3
RNN_DROPOUT = 0.1
TRANSFORMER_DROPOUT = 0.1
PE_MAX_LEN = 5000


def conv_frontend_features(
    num_blocks: int, num_bands: int = NUM_BANDS, channels_step: int = CONV_CHANNELS_STEP
) -> int:
    """Flattened features per frame after ``num_blocks`` conv blocks: 896, 576, 288 for 1, 2, 3 blocks."""
    freq = num_bands
    for _ in range(num_blocks):
        freq //= FREQ_POOL
    return channels_step * num_blocks * freq


class ConvBlock(nn.Module):
    """Conv(3x3) -> ReLU -> BN -> Conv(3x3) -> ReLU -> BN -> MaxPool(1x3) -> Dropout2d(0.3)."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float = CONV_DROPOUT):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.ReLU(),
            nn.BatchNorm2d(out_channels),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.ReLU(),
            nn.BatchNorm2d(out_channels),
            nn.MaxPool2d(kernel_size=(1, FREQ_POOL)),
            nn.Dropout2d(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ConvFrontend(nn.Module):
    """``num_blocks`` conv blocks; (B, 1, T, F) -> (B, T, C*F') with C = channels_step*num_blocks.

    ``channels_step`` is 32 in the SPEC architectures; smaller values give cheaper models for CPU inference.
    """

    def __init__(self, num_blocks: int, num_bands: int = NUM_BANDS, channels_step: int = CONV_CHANNELS_STEP):
        super().__init__()
        if num_blocks < 1:
            raise ValueError(f"num_blocks must be >= 1, got {num_blocks}")
        if channels_step < 1:
            raise ValueError(f"channels_step must be >= 1, got {channels_step}")
        channels = [1] + [channels_step * (i + 1) for i in range(num_blocks)]
        self.blocks = nn.Sequential(*(ConvBlock(channels[i], channels[i + 1]) for i in range(num_blocks)))
        self.out_features = conv_frontend_features(num_blocks, num_bands, channels_step)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(x)  # (B, C, T, F')
        b, c, t, f = x.shape
        return x.permute(0, 2, 1, 3).reshape(b, t, c * f)


def sinusoidal_table(length: int, dim: int) -> torch.Tensor:
    """(length, dim) table: sin(pos / 10000^(2i/dim)) on even, cos on odd dimensions."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * div)
    table[:, 1::2] = torch.cos(position * div)[:, : dim // 2]
    return table


class SinusoidalPositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal table to (B, T, D); no dropout, not part of the state dict."""

    def __init__(self, dim: int, max_len: int = PE_MAX_LEN):
        super().__init__()
        self.dim = dim
        self.register_buffer("table", sinusoidal_table(max_len, dim), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        if t > self.table.shape[0]:  # longer than max_len: extend the table once
            self.table = sinusoidal_table(t, self.dim).to(self.table.device)
        return x + self.table[:t].to(x.dtype)


class TransformerBlock(nn.Module):
    """Pre-LN block: x + Drop(MHA(LN(x))), then x + Drop(FC2(GELU(FC1(LN(x))))), FC1: D -> 4D."""

    def __init__(self, dim: int, num_heads: int, dropout: float = TRANSFORMER_DROPOUT):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, num_heads, dropout=0.0, batch_first=True)
        self.drop1 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * dim, dim)
        self.drop2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        h, _ = self.attn(h, h, h, need_weights=False)
        x = x + self.drop1(h)
        return x + self.drop2(self.fc2(self.act(self.fc1(self.norm2(x)))))


class RecurrentDecoder(nn.Module):
    """Bidirectional GRU/LSTM (dropout 0.1 between layers) then Linear(2H -> 5); (B, T, F) -> (B, T, 5)."""

    def __init__(self, in_features: int, num_layers: int, hidden_size: int, cell: str):
        super().__init__()
        rnn_cls = {"gru": nn.GRU, "lstm": nn.LSTM}.get(cell.lower())
        if rnn_cls is None:
            raise ValueError(f"cell must be 'gru' or 'lstm', got {cell!r}")
        self.rnn = rnn_cls(
            in_features,
            hidden_size,
            num_layers=num_layers,
            dropout=RNN_DROPOUT if num_layers > 1 else 0.0,
            bidirectional=True,
            batch_first=True,
        )
        self.head = nn.Linear(2 * hidden_size, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[1]

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(recurrent output (B, T, 2H), logits (B, T, 5)): what the output layer reads, and its output."""
        y, _ = self.rnn(x)
        return y, self.head(y)


def widen_recurrent_state(
    old: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """``old`` (a :class:`RecurrentDecoder` model's state) grown into ``fresh`` (the same model with a larger
    ``hidden_size``) so that the grown model computes exactly what the old one did (Net2Net-style growth).

    Every tensor of the same shape is copied. In each bidirectional recurrent layer the old units keep their
    weights and get zero weights from the new units (of this layer's state and of the layer below); the new
    units keep ``fresh``'s random weights, so they compute something and can learn; the head reads the new
    units through zero weights. Nothing reaches the output from a new unit until training changes those
    zeros. Raises ValueError for any other difference."""
    hh = sorted(k for k in old if ".rnn.weight_hh_l0" in k and not k.endswith("_reverse"))
    if len(hh) != 1:
        raise ValueError("widening needs exactly one recurrent decoder in the model")
    prefix = hh[0].split("rnn.weight_hh_l0")[0]
    h_old, h_new = old[hh[0]].shape[1], fresh[hh[0]].shape[1]
    gates = old[hh[0]].shape[0] // h_old
    if h_new < h_old:
        raise ValueError(f"cannot narrow a recurrent layer ({h_old} -> {h_new} units)")

    # row g*H + j of a stacked gate matrix is unit j of gate g: where each old row goes in the wider matrix
    rows_src = torch.arange(gates * h_old)
    rows_dst = (rows_src // h_old) * h_new + rows_src % h_old

    def old_columns(n_old: int) -> torch.Tensor:
        # where the old units' outputs sit among a layer's inputs: [forward H | backward H]
        src = torch.arange(n_old)
        return src + (src >= h_old) * (h_new - h_old)

    out: dict[str, torch.Tensor] = {}
    for key, new in fresh.items():
        if key not in old:
            raise ValueError(f"{key}: not in the model being widened")
        src = old[key]
        if src.shape == new.shape:
            out[key] = src.clone()
            continue
        name = key[len(prefix) :] if key.startswith(prefix) else key
        grown = new.clone()
        if name.startswith("rnn.bias_") or (
            name.startswith("rnn.weight_ih_l0") and src.shape[1] == new.shape[1]
        ):
            grown[rows_dst] = src[rows_src]  # biases, first layer (same inputs): the old rows move
        elif name.startswith(("rnn.weight_hh", "rnn.weight_ih")) and not name.startswith("rnn.weight_ih_l0"):
            # the state (hh) or the layer below (ih): old units read nothing from the new ones
            cols = torch.arange(h_old) if name.startswith("rnn.weight_hh") else old_columns(src.shape[1])
            grown[rows_dst] = 0.0
            grown[rows_dst[:, None], cols[None, :]] = src[rows_src]
        elif name == "head.weight":
            grown.zero_()
            grown[:, old_columns(src.shape[1])] = src
        else:
            raise ValueError(
                f"{key}: shape {tuple(src.shape)} -> {tuple(new.shape)} is not a recurrent width"
            )
        out[key] = grown
    return out


def widen_conv_state(old: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``old`` (a CRNN's state) with its conv frontend grown to ``fresh``'s channel counts (a larger
    ``conv_channels``) so that the grown model computes exactly what the old one did.

    The new channels of each conv layer are appended after the old ones and keep ``fresh``'s random weights
    (and fresh BatchNorm), so they compute something and can learn; every old channel reads the new channels
    of the layer below through zero weights, and the recurrent decoder's first layer reads the new channels'
    features (appended after the old ones by the frontend's channel-major flattening) through zero columns.
    The decoder keeps ``old``'s width (its other tensors are copied as they are): pass the result to
    :func:`widen_recurrent_state` when that grows too. Raises ValueError for any other frontend difference."""
    out: dict[str, torch.Tensor] = {}
    for key, src in old.items():
        if key not in fresh:
            raise ValueError(f"{key}: not in the model it is grown into")
        new = fresh[key]
        if src.shape == new.shape or not key.startswith(("frontend.", "decoder.rnn.weight_ih_l0")):
            out[key] = src.clone()  # the decoder's other layers: widen_recurrent_state's part
        elif (
            key.startswith("frontend.")
            and src.dim() == 4
            and src.shape[2:] == new.shape[2:]
            and all(a <= b for a, b in zip(src.shape[:2], new.shape[:2]))
        ):
            grown = new.clone()  # conv weight (out, in, kh, kw): new output channels keep fresh weights
            o, i = src.shape[:2]
            grown[:o] = 0.0
            grown[:o, :i] = src
            out[key] = grown
        elif key.startswith("frontend.") and src.dim() == 1 and src.shape[0] < new.shape[0]:
            grown = new.clone()  # BatchNorm weight, bias and running statistics
            grown[: src.shape[0]] = src
            out[key] = grown
        elif key.startswith("decoder.rnn.weight_ih_l0") and src.shape[1] < new.shape[1]:
            grown = src.new_zeros(src.shape[0], new.shape[1])  # the old rows, new input columns at zero
            grown[:, : src.shape[1]] = src
            out[key] = grown
        else:
            raise ValueError(f"{key}: shape {tuple(src.shape)} -> {tuple(new.shape)} is not a conv width")
    missing = sorted(set(fresh) - set(old))
    if missing:
        raise ValueError(f"{missing[0]}: not in the model being widened")
    return out


def grow_state(old: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``old`` grown into ``fresh`` (more conv channels and/or more recurrent units), output unchanged."""
    state = old
    if any(k.startswith("frontend.") and k in fresh and v.shape != fresh[k].shape for k, v in old.items()):
        state = widen_conv_state(old, fresh)
    if any(k in fresh and v.shape != fresh[k].shape for k, v in state.items()):
        state = widen_recurrent_state(state, fresh)
    return state
