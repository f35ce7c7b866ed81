"""Articulations: open or closed hi-hat, ride or crash, read from what a recurrent model already computes.

The five classes stay as the model gives them. A model folder may add an *articulation head*
(``articulation.safetensors``, described by the card's ``articulation`` entry): per output, a logistic
regression over the recurrent layer's output and the class logits at a frame and the frame after it, i.e. a
1-D convolution of width 2 over time. :func:`make_wrapper` runs the model and the head in one graph that
returns the class logits followed by one logit per articulation output, so the torch network and its ONNX
export (``drumscribe export-onnx``) both give them in one pass. Inference
(:func:`drumscribe.transcribe.inference.get_model`) wraps a torch network itself; training and evaluation
load the plain network.

The head is fitted by ``scripts/fit_articulation.py`` on engine renders that record each struck piece
(``hits``): class-balanced logistic regression, the L2 weight chosen on the renders' validation kits.
The fit reports balanced accuracies on the renders' held-out kits; ``python benchmarks/articulation_mdb.py``
measures the head on mdb-dev's subclass annotations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError

ARTICULATION_FILE = "articulation.safetensors"


@dataclass(frozen=True)
class ArticulationOutput:
    """One articulation output: onsets of ``class_name`` are ``name`` where the output's probability is at
    least 0.5, else ``other``; each gets its General MIDI note."""

    class_name: str
    name: str
    other: str
    midi_note: int
    other_midi_note: int
    #: engine pieces that are ``name`` (label 1) and ``other`` (label 0) when fitting
    pieces: tuple[str, ...] = ()
    other_pieces: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The card's form: the fields, ``class_name`` as ``class``, the pieces as lists."""
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        d["class"] = d.pop("class_name")
        return d

    def notes(self, class_note: int) -> tuple[int, int]:
        """(MIDI note of ``name``, of ``other``) for a class whose note is ``class_note``: the output's
        own notes while the class keeps the plain articulation's note (42, 49); else ``class_note`` for
        both (a class given its own note, ``--midi-notes``, keeps it for every stroke)."""
        if int(class_note) == self.other_midi_note:
            return self.midi_note, self.other_midi_note
        return int(class_note), int(class_note)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArticulationOutput:
        return cls(
            str(d["class"]),
            str(d["name"]),
            str(d["other"]),
            int(d["midi_note"]),
            int(d["other_midi_note"]),
            tuple(d.get("pieces", ())),
            tuple(d.get("other_pieces", ())),
        )


#: the outputs ``scripts/fit_articulation.py`` fits (General MIDI: 46 open hi-hat, 42 closed, 51 ride, 49 crash)
DEFAULT_OUTPUTS = (
    ArticulationOutput("hihat", "open", "closed", 46, 42, ("hihat_open",), ("hihat_closed", "hihat_pedal")),
    ArticulationOutput(
        "cymbals", "ride", "crash", 51, 49, ("ride", "ride_bell"), ("crash", "china", "splash")
    ),
)


def card_outputs(card: dict[str, Any]) -> list[ArticulationOutput]:
    """The articulation outputs a model card describes (none without an ``articulation`` entry)."""
    entry = card.get("articulation")
    if not entry:
        return []
    return [ArticulationOutput.from_dict(d) for d in entry.get("outputs", [])]


def output_names(card: dict[str, Any], classes: list[str]) -> list[str | None]:
    """Per class, the ``name`` of its articulation output (open, ride), or None."""
    named = {o.class_name: o.name for o in card_outputs(card)}
    return [named.get(c) for c in classes]


def _torch_head(in_features: int, n_outputs: int) -> Any:
    from torch import nn

    return nn.Conv1d(in_features, n_outputs, kernel_size=2)


def head_logits(conv: Any, recurrent: Any, logits: Any) -> Any:
    """(B, T, A) articulation logits from the recurrent output (B, T, 2H) and class logits (B, T, C): the
    width-2 convolution reads each frame and the next (the last frame is repeated at the end)."""
    import torch
    from torch.nn import functional

    z = torch.cat([recurrent, logits], dim=-1).transpose(1, 2)
    z = functional.pad(z, (0, 1), mode="replicate")
    return conv(z).transpose(1, 2)


def check_recurrent(net: Any) -> None:
    """ModelError unless ``net`` is a CRNN or RNN (a recurrent decoder whose features a head can read)."""
    if not hasattr(net, "decoder_input") or not hasattr(getattr(net, "decoder", None), "features"):
        raise ModelError(f"articulations need a recurrent model (CRNN or RNN), got {type(net).__name__}")


def recurrent_features(net: Any, x: Any) -> tuple[Any, Any]:
    """(recurrent output (B, T, 2H), class logits (B, T, C)) of a CRNN/RNN on standardised input (B, 1, T, F)."""
    check_recurrent(net)
    return net.decoder.features(net.decoder_input(x))


def make_wrapper(net: Any, conv: Any) -> Any:
    """``net`` and an articulation convolution in one module: (B, 1, T, F) -> (B, T, C + A) logits."""
    from torch import nn

    class WithArticulation(nn.Module):
        is_articulation_wrapper = True

        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.conv = conv

        def forward(self, x):
            import torch

            y, logits = recurrent_features(self.net, x)
            return torch.cat([logits, head_logits(self.conv, y, logits)], dim=-1)

    check_recurrent(net)
    return WithArticulation().eval()


def load_head(folder: Path, card: dict[str, Any]) -> Any:
    """The articulation convolution of a model folder, its checksum verified."""
    from safetensors.torch import load_file

    from .modelio import _sha256

    entry = card["articulation"]
    path = folder / str(entry.get("file", ARTICULATION_FILE))
    if entry.get("weights_sha256") != card.get("weights_sha256"):
        raise ModelError(
            f"{path}: fitted on other weights than the card's (fit it again: scripts/fit_articulation.py {folder})"
        )
    if not path.is_file():
        raise ModelError(f"{path}: articulation head missing (the card's 'articulation' entry names it)")
    if entry.get("sha256") and _sha256(path) != entry["sha256"]:
        raise ModelError(f"{path}: checksum mismatch (file corrupt or replaced)")
    try:
        state = load_file(str(path))
        conv = _torch_head(int(state["weight"].shape[1]), int(state["weight"].shape[0]))
        conv.load_state_dict(state)
    except Exception as exc:  # safetensors and torch raise various types
        raise ModelError(f"{path}: not an articulation head ({exc})") from exc
    if conv.out_channels != len(card_outputs(card)):
        raise ModelError(f"{path}: {conv.out_channels} outputs, the card describes {len(card_outputs(card))}")
    return conv


def wrap_loaded(model: Any) -> Any:
    """A :class:`~drumscribe.modelio.LoadedModel` whose torch network also gives the card's articulation
    outputs (unchanged when the card has none, the network is an ONNX one, or it is wrapped already)."""
    from dataclasses import replace

    if (
        model.backend != "torch"
        or not card_outputs(model.card)
        or getattr(model.net, "is_articulation_wrapper", False)
    ):
        return model
    if model.path is None:
        raise ModelError(f"model {model.name!r}: its card has articulations but it has no folder")
    conv = load_head(model.path, model.card)
    device = next(model.net.parameters()).device
    return replace(model, net=make_wrapper(model.net, conv.to(device)))


# ------------------------------------------------------------------------------------------- fitting
def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, max_iter: int = 300) -> tuple[np.ndarray, float]:
    """Class-balanced, L2-regularised logistic regression (LBFGS) on ``x`` standardised per column; returns
    (weights, bias) for the *unstandardised* ``x`` (standardisation folded in)."""
    import torch

    xt = torch.as_tensor(x, dtype=torch.float64)
    yt = torch.as_tensor(y, dtype=torch.float64)
    mu, sd = xt.mean(0), xt.std(0) + 1e-6
    z = (xt - mu) / sd
    pos = float(yt.mean())
    if not 0 < pos < 1:
        raise ModelError("fitting an articulation needs examples of both kinds")
    weights = torch.where(yt > 0, 0.5 / pos, 0.5 / (1 - pos))
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, yt, reduction="none")
        loss = (loss * weights).mean() + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        w_raw = w / sd
        b_raw = b - (w_raw * mu).sum()
    return w_raw.numpy(), float(b_raw)


def balanced_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean of the two recalls of ``scores >= 0`` against binary ``labels``."""
    pred = scores >= 0
    return float(np.mean([np.mean(pred[labels == k] == k) for k in (0, 1) if np.any(labels == k)]))


def onset_pairs(features: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """(N, 2F): the per-frame features (T, F) at each onset frame and the frame after it (the last frame
    repeated), what the width-2 head reads."""
    f = np.clip(np.asarray(frames, dtype=int), 0, len(features) - 1)
    return np.concatenate([features[f], features[np.minimum(f + 1, len(features) - 1)]], axis=1)


def to_conv_state(fits: list[tuple[np.ndarray, float]], in_features: int) -> dict[str, Any]:
    """Conv1d(in_features, A, 2) weights from per-output (weights over [frame, next frame], bias)."""
    import torch

    weight = np.zeros((len(fits), in_features, 2), dtype=np.float32)
    bias = np.zeros(len(fits), dtype=np.float32)
    for a, (w, b) in enumerate(fits):
        weight[a, :, 0] = w[:in_features]
        weight[a, :, 1] = w[in_features:]
        bias[a] = b
    return {"weight": torch.from_numpy(weight), "bias": torch.from_numpy(bias)}


L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1)


def hit_examples(meta: dict[str, Any], outputs: list[ArticulationOutput], fps: float) -> list[np.ndarray]:
    """Per output, (N, 2) int array of (frame, label) for a rendered track's recorded ``hits``."""
    from .targets import onset_frames

    out = []
    for o in outputs:
        parts = [
            np.stack([onset_frames(times, fps), np.full(len(times), int(piece in o.pieces))], axis=1)
            for piece, times in meta.get("hits", {}).items()
            if (piece in o.pieces or piece in o.other_pieces) and len(times)
        ]
        out.append(np.concatenate(parts).astype(int) if parts else np.zeros((0, 2), dtype=int))
    return out


def collect_examples(
    loaded: Any, stores: list[Any], split: str, outputs: list[ArticulationOutput]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per output, (features at each recorded hit and the frame after, labels) over ``split`` of ``stores``:
    each track runs through the model in one window, as its store holds it."""
    import torch

    from .transcribe.inference import standardise

    xs: list[list[np.ndarray]] = [[] for _ in outputs]
    ys: list[list[np.ndarray]] = [[] for _ in outputs]
    fps = float(loaded.feature_config.fps)
    for store in stores:
        for tid in store.track_ids(split):
            meta = store.records[tid].meta
            if "hits" not in meta:
                raise ModelError(
                    f"{store.root}: track {tid} records no hits (render it again with this version)"
                )
            examples = hit_examples(meta, outputs, fps)
            if not any(len(e) for e in examples):
                continue
            spec = np.asarray(store.features(tid), dtype=np.float32)
            x = torch.from_numpy(standardise(spec, loaded.mean, loaded.std).astype(np.float32))[None, None]
            with torch.inference_mode():
                y, logits = recurrent_features(loaded.net, x)
            feats = torch.cat([y, logits], dim=-1)[0].numpy()
            for a, e in enumerate(examples):
                if len(e):
                    xs[a].append(onset_pairs(feats, e[:, 0]))
                    ys[a].append(e[:, 1])
    return [
        (np.concatenate(x) if x else np.zeros((0, 0)), np.concatenate(y) if y else np.zeros(0, int))
        for x, y in zip(xs, ys)
    ]


def fit_head(
    loaded: Any,
    stores: list[Any],
    outputs: tuple[ArticulationOutput, ...] = DEFAULT_OUTPUTS,
    l2_grid: tuple[float, ...] = L2_GRID,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Conv1d state, card entry without file/sha256): each output's logistic regression fitted on the train
    split of ``stores`` for every L2 weight of ``l2_grid``, the one with the best balanced accuracy on the
    validation split kept, and scored on the test split."""
    outs = list(outputs)
    data = {s: collect_examples(loaded, stores, s, outs) for s in ("train", "validation", "test")}
    fits, report = [], []
    in_features = 0
    for a, o in enumerate(outs):
        x, y = data["train"][a]
        if len(y) == 0 or y.min() == y.max():
            raise ModelError(
                f"the train split of {', '.join(str(s.root) for s in stores)} has {int(y.sum())} {o.name} and "
                f"{int(len(y) - y.sum())} {o.other} {o.class_name} hits: fitting needs both"
            )
        in_features = x.shape[1] // 2
        candidates = {l2: fit_logistic(x, y, l2) for l2 in l2_grid}
        xv, yv = data["validation"][a]
        val = {
            l2: balanced_accuracy(xv @ w + b, yv) if len(yv) else float("nan")
            for l2, (w, b) in candidates.items()
        }
        chosen = max(l2_grid, key=lambda l2: -1.0 if np.isnan(val[l2]) else val[l2])
        w, b = candidates[chosen]
        xt, yt = data["test"][a]
        fits.append((w, b))
        report.append(
            {
                "output": f"{o.class_name}:{o.name}",
                "l2": chosen,
                "validation_by_l2": {f"{k:g}": round(v, 4) for k, v in val.items()},
                "balanced_accuracy": {
                    "train": round(balanced_accuracy(x @ w + b, y), 4),
                    "validation": round(val[chosen], 4),
                    "test": round(balanced_accuracy(xt @ w + b, yt), 4) if len(yt) else None,
                },
                "hits": {
                    s: {"total": int(len(data[s][a][1])), o.name: int(data[s][a][1].sum())}
                    for s in ("train", "validation", "test")
                },
            }
        )
    entry = {
        "outputs": [o.to_dict() for o in outs],
        "in_features": in_features,
        "method": "class-balanced L2 logistic regression over the recurrent output and class logits at an "
        "onset frame and the next, L2 chosen on the validation kits (drumscribe.articulation.fit_head)",
        "stores": [str(s.root) for s in stores],
        "fit": report,
    }
    return to_conv_state(fits, in_features), entry


def save_head(folder: Path, state: dict[str, Any], entry: dict[str, Any]) -> Path:
    """Write ``articulation.safetensors`` (atomically) and the card's ``articulation`` entry."""
    from safetensors.torch import save_file

    from .fileio import atomic_path, read_json, write_json
    from .modelio import CARD_NAME, _sha256

    path = folder / ARTICULATION_FILE
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp))
    card = read_json(folder / CARD_NAME)
    card["articulation"] = {
        "file": ARTICULATION_FILE,
        "sha256": _sha256(path),
        "weights_sha256": card.get("weights_sha256"),  # the weights whose features it reads
        **entry,
    }
    write_json(folder / CARD_NAME, card)
    return path
