"""The five architectures: shapes at any length, hand-counted parameters, overfitting, save/load."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from drumscribe.errors import ConfigError
from drumscribe.modelio import load_model, make_card, save_model
from drumscribe.models import (
    ARCHITECTURES,
    SEARCH_SPACES,
    build_model,
    count_parameters,
    default_params,
    valid_params,
)
from drumscribe.models.blocks import SinusoidalPositionalEncoding, conv_frontend_features

#: Small configurations of every architecture, so the tests run in seconds on 2 cores.
TINY = {
    "rnn": {"num_layers": 2, "hidden_size": 16, "cell": "gru"},
    "cnn": {"num_blocks": 2, "num_layers": 2, "hidden_size": 16},
    "crnn": {"num_layers": 2, "hidden_size": 16, "cell": "gru"},
    "ct": {"num_heads": 2, "num_layers": 2, "embed_dim": 16},
    "vit": {"patch_size": 21, "num_heads": 2, "num_layers": 2, "embed_dim": 16},
}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
@pytest.mark.parametrize("frames", [400, 1000])
def test_output_shape_any_length(arch: str, frames: int) -> None:
    net = build_model(arch, **TINY[arch]).eval()
    with torch.no_grad():
        y = net(torch.randn(2, 1, frames, 84))
    assert y.shape == (2, frames, 5)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_default_configs_build_and_run(arch: str) -> None:
    net = build_model(arch).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 1, 100, 84)).shape == (1, 100, 5)


def test_frames_are_independent_for_cnn() -> None:
    """The CNN has no temporal layer after its 3x3 convolutions: frame t only sees frames t-2..t+2 per block."""
    net = build_model("cnn", num_blocks=1, num_layers=1, hidden_size=8).eval()
    x = torch.randn(1, 1, 50, 84)
    x2 = x.clone()
    x2[0, 0, 40:] += 5.0
    with torch.no_grad():
        y, y2 = net(x), net(x2)
    assert torch.allclose(y[0, :37], y2[0, :37])  # receptive field of one block: +-2 frames
    assert not torch.allclose(y[0, 38:], y2[0, 38:])


def _conv_block(cin: int, k: int) -> int:
    return cin * k * 9 + 2 * k + k * k * 9 + 2 * k  # two bias-free 3x3 convs, two BatchNorms


def _rnn(n_in: int, layers: int, hidden: int, gates: int) -> int:
    total = 0
    for layer in range(layers):
        i = n_in if layer == 0 else 2 * hidden
        total += 2 * gates * (hidden * i + hidden * hidden + 2 * hidden)  # two directions, two biases
    return total + 2 * hidden * 5 + 5


def _transformer(d: int, layers: int) -> int:
    block = 2 * (2 * d) + (3 * d * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d)
    return layers * block + d * 5 + 5


def test_frontend_sizes() -> None:
    assert [conv_frontend_features(i) for i in (1, 2, 3)] == [896, 576, 288]
    assert conv_frontend_features(2, channels_step=16) == 288


@pytest.mark.parametrize(
    ("arch", "params", "expected"),
    [
        ("rnn", {"num_layers": 2, "hidden_size": 72, "cell": "gru"}, _rnn(84, 2, 72, 3)),
        ("rnn", {"num_layers": 3, "hidden_size": 144, "cell": "lstm"}, _rnn(84, 3, 144, 4)),
        (
            "cnn",
            {"num_blocks": 3, "num_layers": 2, "hidden_size": 144},
            _conv_block(1, 32)
            + _conv_block(32, 64)
            + _conv_block(64, 96)
            + 288 * 144
            + 144
            + 144 * 144
            + 144
            + 144 * 5
            + 5,
        ),
        (
            "cnn",
            {"num_blocks": 1, "num_layers": 1, "hidden_size": 72},
            _conv_block(1, 32) + 896 * 72 + 72 + 72 * 5 + 5,
        ),
        (
            "crnn",
            {"num_layers": 3, "hidden_size": 288, "cell": "lstm"},
            _conv_block(1, 32) + _conv_block(32, 64) + _rnn(576, 3, 288, 4),
        ),
        (  # the default model's cheaper front end: 16 and 32 channels, 32 * 9 = 288 features per frame
            "crnn",
            {"num_layers": 2, "hidden_size": 128, "cell": "gru", "conv_channels": 16},
            _conv_block(1, 16) + _conv_block(16, 32) + _rnn(288, 2, 128, 3),
        ),
        (
            "ct",
            {"num_heads": 8, "num_layers": 10, "embed_dim": 144},
            _conv_block(1, 32) + _conv_block(32, 64) + 576 * 144 + 144 + _transformer(144, 10),
        ),
        (
            "vit",
            {"patch_size": 7, "num_heads": 8, "num_layers": 6, "embed_dim": 144},
            (12 * 7 + 12) + 12 * 12 + _transformer(144, 6),  # patch conv 1->144/12 ch, position 12x12
        ),
        (
            "vit",
            {"patch_size": 21, "num_heads": 6, "num_layers": 10, "embed_dim": 288},
            (72 * 21 + 72) + 72 * 4 + _transformer(288, 10),
        ),
    ],
)
def test_parameter_counts(arch: str, params: dict, expected: int) -> None:
    assert count_parameters(build_model(arch, **params)) == expected


def test_search_spaces_match_spec() -> None:
    assert SEARCH_SPACES["rnn"] == {
        "num_layers": [2, 3, 4, 5, 6],
        "hidden_size": [72, 144, 288, 576],
        "cell": ["gru", "lstm"],
    }
    assert SEARCH_SPACES["cnn"] == {
        "num_blocks": [1, 2, 3],
        "num_layers": [1, 2, 3, 4],
        "hidden_size": [72, 144, 288, 576],
    }
    assert SEARCH_SPACES["crnn"] == {
        "num_layers": [2, 3, 4, 5],
        "hidden_size": [72, 144, 288, 576],
        "cell": ["gru", "lstm"],
    }
    transformer = {
        "num_heads": [2, 4, 6, 8],
        "num_layers": [2, 4, 6, 8, 10],
        "embed_dim": [72, 144, 288, 576],
    }
    assert SEARCH_SPACES["ct"] == transformer
    assert SEARCH_SPACES["vit"] == {"patch_size": [7, 14, 21], **transformer}
    for arch, space in SEARCH_SPACES.items():  # every SPEC parameter is searched; extras keep the SPEC value
        extra = {"conv_channels"} if arch == "crnn" else set()
        assert set(space) | extra == set(default_params(arch))
    assert default_params("crnn")["conv_channels"] == 32


def test_valid_params_and_errors() -> None:
    assert valid_params("vit", {"patch_size": 21, "embed_dim": 72, "num_heads": 2})
    assert not valid_params("vit", {"patch_size": 21, "embed_dim": 74, "num_heads": 2})  # 74 % 4 != 0
    assert not valid_params("vit", {"patch_size": 5})  # 5 does not divide 84
    assert not valid_params("ct", {"embed_dim": 72, "num_heads": 5})
    assert valid_params("crnn", {"num_layers": 2})
    with pytest.raises(ConfigError, match="unknown parameter"):
        build_model("crnn", hidden=3)
    with pytest.raises(ConfigError, match="unknown architecture"):
        build_model("lstm")
    with pytest.raises(ConfigError):
        build_model("vit", patch_size=21, embed_dim=74, num_heads=2)
    with pytest.raises(ConfigError):
        build_model("rnn", cell="elman")


def test_thesis_chosen_configs_build() -> None:
    """Every configuration the thesis chose (SPEC section 6 table) is valid."""
    chosen = {
        "rnn": [(2, 576, "gru"), (4, 576, "gru"), (6, 288, "lstm"), (6, 576, "gru")],
        "crnn": [(3, 288, "lstm"), (3, 144, "gru"), (5, 576, "gru"), (5, 144, "lstm")],
    }
    for arch, configs in chosen.items():
        for layers, hidden, cell in configs:
            assert valid_params(arch, {"num_layers": layers, "hidden_size": hidden, "cell": cell})
    for p, h, layers, d in [(7, 8, 6, 144), (21, 8, 8, 144), (21, 6, 10, 288), (7, 6, 10, 576)]:
        assert valid_params("vit", {"patch_size": p, "num_heads": h, "num_layers": layers, "embed_dim": d})
    for h, layers, d in [(8, 10, 144), (6, 4, 144), (4, 8, 576)]:
        assert valid_params("ct", {"num_heads": h, "num_layers": layers, "embed_dim": d})


def test_sinusoidal_encoding_values_and_long_inputs() -> None:
    pe = SinusoidalPositionalEncoding(6, max_len=10)
    out = pe(torch.zeros(1, 12, 6))  # longer than max_len: the table grows
    for pos in (0, 3, 11):
        for i in range(3):
            angle = pos / 10000 ** (2 * i / 6)
            assert out[0, pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert out[0, pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    assert "table" not in pe.state_dict()


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_overfits_one_batch(arch: str) -> None:
    frames = 32
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(4, 1, frames, 84, generator=gen)
    # a learnable rule: class c is "on" where the mean of bands 16c..16c+15 is high (about 8 % of frames)
    y = torch.stack([x[:, 0, :, 16 * c : 16 * c + 16].mean(-1) > 0.35 for c in range(5)], dim=-1).float()
    net = build_model(arch, **TINY[arch])
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(80):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    net.eval()
    with torch.no_grad():
        logits = net(x)
    final = torch.nn.functional.binary_cross_entropy_with_logits(logits, y).item()
    acc = ((logits > 0).float() == y).float().mean().item()
    assert final < 0.35 * losses[0]
    assert acc > 1 - y.mean().item()  # better than always predicting 0


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_save_load_round_trip(arch: str, tmp_path) -> None:
    net = build_model(arch, **TINY[arch])
    with torch.no_grad():  # make BatchNorm statistics non-trivial
        net.train()
        net(torch.randn(2, 1, 50, 84))
    net.eval()
    card = make_card(arch, TINY[arch], {"fps": 100}, mean=0.3, std=0.5, thresholds=[0.3, 0.4, 0.5, 0.6, 0.7])
    save_model(net, card, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    x = torch.randn(1, 1, 123, 84)
    with torch.no_grad():
        assert torch.equal(net(x), loaded.net(x))
    assert loaded.arch == arch
    np.testing.assert_allclose(loaded.thresholds, [0.3, 0.4, 0.5, 0.6, 0.7])
    assert (loaded.mean, loaded.std) == (0.3, 0.5)


@pytest.mark.parametrize("arch", ["rnn", "crnn"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_widening_a_recurrent_model_keeps_its_output_and_lets_new_units_learn(arch: str, cell: str) -> None:
    from drumscribe.models.blocks import widen_recurrent_state

    torch.manual_seed(0)
    narrow = build_model(arch, num_layers=2, hidden_size=8, cell=cell).eval()
    wide = build_model(arch, num_layers=2, hidden_size=13, cell=cell).eval()
    fresh = {k: v.clone() for k, v in wide.state_dict().items()}
    wide.load_state_dict(widen_recurrent_state(narrow.state_dict(), wide.state_dict()))
    x = torch.randn(2, 1, 40, 84)
    with torch.no_grad():
        assert torch.allclose(narrow(x), wide(x), atol=1e-5)
    state = wide.state_dict()
    gates = 3 if cell == "gru" else 4
    w_hh = state["decoder.rnn.weight_hh_l1"]
    assert w_hh.shape == (gates * 13, 13)
    # the new units of each gate keep their fresh random weights; the old ones read nothing from them
    new_rows = torch.cat([torch.arange(g * 13 + 8, (g + 1) * 13) for g in range(gates)])
    assert torch.equal(w_hh[new_rows], fresh["decoder.rnn.weight_hh_l1"][new_rows])
    old_rows = torch.cat([torch.arange(g * 13, g * 13 + 8) for g in range(gates)])
    assert torch.count_nonzero(w_hh[old_rows][:, 8:]) == 0
    assert torch.count_nonzero(state["decoder.head.weight"][:, [*range(8, 13), *range(21, 26)]]) == 0
    # training moves the output through the new units: the head's zero columns get a gradient
    wide.train()
    wide(x).sum().backward()
    assert wide.decoder.head.weight.grad[:, 8:13].abs().sum() > 0
    with pytest.raises(ValueError, match="narrow"):
        widen_recurrent_state(wide.state_dict(), narrow.state_dict())
    other = build_model(arch, num_layers=2, hidden_size=13, cell=cell, num_bands=42)
    if arch == "rnn":  # another input size is not a width change
        with pytest.raises(ValueError, match="not a recurrent width|shape"):
            widen_recurrent_state(narrow.state_dict(), other.state_dict())


def test_growing_a_crnns_conv_layers_keeps_its_output_and_lets_new_channels_learn() -> None:
    from drumscribe.models.blocks import grow_state, widen_conv_state

    torch.manual_seed(0)
    small = build_model("crnn", num_layers=2, hidden_size=8, cell="gru", conv_channels=4)
    with torch.no_grad():  # non-trivial BatchNorm statistics
        small.train()
        small(torch.randn(3, 1, 30, 84))
    small.eval()
    x = torch.randn(2, 1, 40, 84)
    for hidden in (8, 11):  # the conv layers alone, and with the recurrent layers
        big = build_model("crnn", num_layers=2, hidden_size=hidden, cell="gru", conv_channels=6).eval()
        fresh = {k: v.clone() for k, v in big.state_dict().items()}
        big.load_state_dict(grow_state(small.state_dict(), big.state_dict()))
        with torch.no_grad():
            assert torch.allclose(small(x), big(x), atol=1e-5)
    state = big.state_dict()
    w = state["frontend.blocks.1.layers.0.weight"]  # block 2's first conv: 8 -> 12 outputs, 4 -> 6 inputs
    assert w.shape == (12, 6, 3, 3)
    assert torch.equal(
        w[8:], fresh["frontend.blocks.1.layers.0.weight"][8:]
    )  # new outputs keep fresh weights
    assert torch.count_nonzero(w[:8, 4:]) == 0  # old outputs read nothing from new inputs
    w_ih = state["decoder.rnn.weight_ih_l0"]
    old_units = torch.cat([torch.arange(g * 11, g * 11 + 8) for g in range(3)])  # the old units of 3 gates
    assert w_ih.shape[1] == 12 * 9 and torch.count_nonzero(w_ih[old_units][:, 8 * 9 :]) == 0
    # training reaches the new channels: the decoder's zero columns get a gradient
    big.train()
    big(x).sum().backward()
    assert big.decoder.rnn.weight_ih_l0.grad[:, 8 * 9 :].abs().sum() > 0
    with pytest.raises(ValueError, match="conv width"):
        widen_conv_state(big.state_dict(), small.state_dict())
    other = build_model("crnn", num_layers=2, hidden_size=8, cell="gru", conv_channels=6, num_bands=42)
    with pytest.raises(ValueError, match="conv width"):
        widen_conv_state(small.state_dict(), other.state_dict())
