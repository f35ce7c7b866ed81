"""ONNX export of a model folder and the ONNX Runtime inference backend.

``model.onnx`` sits beside ``weights.safetensors`` and is recorded in the card as
``"onnx": {"file": "model.onnx", "sha256": ..., "opset": ..., "weights_sha256": ..., "max_frames": ...}``
(the weights it was exported from, so a stale export is never used; the longest window the graph takes,
None for any: the transformers' positional table is fixed in the graph). Its graph maps standardised features
``features`` float32 (batch, 1, time, bands) to ``logits`` (batch, time, classes) with dynamic batch and
time axes, exactly as the torch network. Exporting needs torch and the ``onnx`` package (the ``train``
extra); running it needs only onnxruntime and numpy, so transcription on the CPU never imports torch.

CLI: ``drumscribe export-onnx MODEL_DIR`` (registered in :data:`drumscribe.cli.COMMAND_MODULES`).
"""

from __future__ import annotations

import argparse
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError
from .peaks import sigmoid

log = logging.getLogger(__name__)

ONNX_NAME = "model.onnx"
#: Opset of new exports (supported by onnxruntime >= 1.14).
ONNX_OPSET = 17
INPUT_NAME = "features"
OUTPUT_NAME = "logits"
#: Largest allowed difference of sigmoid activations between ONNX Runtime and torch at export time.
EXPORT_TOLERANCE = 1e-4
#: the same for articulation outputs (:mod:`drumscribe.articulation`), read only as above or below 0.5: their
#: logistic weights, fitted on standardised features, amplify float32 rounding more than the class layer does
#: (stage 9's head: up to 1.03e-3 on random inputs of 137-3000 frames, where its class outputs differ by 1.6e-6;
#: a wrong export differs by orders of magnitude more)
ARTICULATION_TOLERANCE = 5e-3
BACKENDS = ("auto", "onnx", "torch")


def export_onnx(name_or_path: str | Path | None, opset: int = ONNX_OPSET, seed: int = 0) -> Path:
    """Write ``model.onnx`` into a model folder from its torch weights, check it and record it in the card.

    The check runs ONNX Runtime and torch on random standardised inputs of two lengths (and two batch
    sizes) and raises :class:`~drumscribe.errors.ModelError` when the sigmoid activations differ by
    :data:`EXPORT_TOLERANCE` or more; the card is rewritten (atomically) only after the check passed.
    Returns the path of ``model.onnx``.
    """
    import torch

    from .fileio import atomic_path, read_json, write_json
    from .modelio import CARD_NAME, _sha256, load_model

    try:
        import onnx  # noqa: F401  (torch's exporter needs it; only imported to give a clear error)
    except ImportError as exc:
        raise ModelError(
            "export-onnx needs the 'onnx' package (pip install 'drumscribe[train]' or pip install onnx)"
        ) from exc
    _import_onnxruntime()
    loaded = load_model(name_or_path, device="cpu", backend="torch")
    folder = loaded.path
    assert folder is not None
    from .articulation import wrap_loaded

    net = wrap_loaded(loaded).net.eval()  # with the card's articulation outputs, when it has them
    exportable = _exportable(net)
    bands = loaded.feature_config.n_bands
    target = folder / ONNX_NAME
    with atomic_path(target) as tmp:
        example = torch.zeros(1, 1, 64, bands)
        # not under no_grad: there nn.MultiheadAttention takes a fused fast path ONNX cannot express
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # legacy-exporter deprecation, GRU batch-size notes
            try:
                torch.onnx.export(
                    exportable,
                    (example,),
                    str(tmp),
                    input_names=[INPUT_NAME],
                    output_names=[OUTPUT_NAME],
                    dynamic_axes={INPUT_NAME: {0: "batch", 2: "time"}, OUTPUT_NAME: {0: "batch", 1: "time"}},
                    opset_version=opset,
                    do_constant_folding=True,
                    dynamo=False,
                )
            except Exception as exc:  # torch's exporter raises many types, with the whole graph attached
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ModelError(
                    f"{target}: torch.onnx.export failed for arch {loaded.arch!r}: {first}"
                ) from None
        session = OnnxNet(tmp, threads=1)  # one thread: no thread pools spinning against torch's
        rng = np.random.default_rng(seed)
        for batch, frames in ((1, 137), (2, 1009)):
            x = rng.standard_normal((batch, 1, frames, bands)).astype(np.float32)
            with torch.no_grad():
                want = torch.sigmoid(net(torch.from_numpy(x))).numpy()
            try:
                got = sigmoid(session(x))
            except Exception as exc:  # onnxruntime's own error types
                raise ModelError(
                    f"{target}: ONNX Runtime fails on input {x.shape} ({str(exc)[:300]}); not written"
                ) from None
            if got.shape != want.shape:
                raise ModelError(
                    f"{target}: ONNX output shape {got.shape} differs from torch's {want.shape} "
                    f"(input {x.shape}); not written"
                )
            n_classes = len(loaded.classes)
            for cols, tolerance in (
                (slice(0, n_classes), EXPORT_TOLERANCE),
                (slice(n_classes, None), ARTICULATION_TOLERANCE),
            ):
                if got[..., cols].size == 0:
                    continue
                diff = float(np.abs(got[..., cols] - want[..., cols]).max())
                if not diff < tolerance:
                    raise ModelError(
                        f"{target}: ONNX Runtime and torch activations differ by {diff:.2e} (>= "
                        f"{tolerance:g}) on input {x.shape}; the export is wrong, not written"
                    )
        del session
    card = read_json(folder / CARD_NAME)
    card["onnx"] = {
        "file": ONNX_NAME,
        "sha256": _sha256(target),
        "opset": int(opset),
        "weights_sha256": card.get("weights_sha256"),  # the weights it was exported from
        "articulation_sha256": (card.get("articulation") or {}).get("sha256"),  # and the articulation head
        "max_frames": _max_frames(net),
    }
    write_json(folder / CARD_NAME, card)
    log.info("exported %s (opset %d)", target, opset)
    return target


def _exportable(net: Any) -> Any:
    """``net`` itself, or a copy whose ``nn.MultiheadAttention`` modules are replaced by the same attention
    in plain tensor operations: the torch module's fused path is not exportable, and its traced slow path
    fixes the sequence length. The export check compares the ONNX graph with the original ``net``."""
    import copy
    import math

    import torch
    from torch import nn

    if not any(isinstance(m, nn.MultiheadAttention) for m in net.modules()):
        return net

    class PlainAttention(nn.Module):
        def __init__(self, mha: nn.MultiheadAttention):
            super().__init__()
            if not mha.batch_first or mha.in_proj_weight is None or mha.bias_k is not None:
                raise ModelError(
                    "export-onnx: only batch-first attention with packed projections is supported"
                )
            self.mha = mha

        def forward(self, query, key, value, need_weights=False, **kwargs):
            if any(v is not None for k, v in kwargs.items() if k.endswith("mask")):
                raise ModelError("export-onnx: attention masks are not supported")
            m = self.mha
            heads, dim = m.num_heads, m.embed_dim
            w, b = m.in_proj_weight, m.in_proj_bias

            def split(x, i):  # (B, T, D) -> (B, heads, T, D / heads)
                y = nn.functional.linear(
                    x, w[i * dim : (i + 1) * dim], None if b is None else b[i * dim : (i + 1) * dim]
                )
                return y.reshape(y.shape[0], -1, heads, dim // heads).transpose(1, 2)

            q, k, v = split(query, 0), split(key, 1), split(value, 2)
            att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(dim // heads), dim=-1)
            out = (att @ v).transpose(1, 2).reshape(query.shape[0], -1, dim)
            return m.out_proj(out), None

    copied = copy.deepcopy(net).eval()
    for module in list(copied.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.MultiheadAttention):
                setattr(module, name, PlainAttention(child))
    return copied


def _max_frames(net: Any) -> int | None:
    """Longest input [frames] the exported graph handles: the torch positional encoding grows its table on
    demand, the exported graph keeps the table it was traced with. None: any length."""
    from .models.blocks import SinusoidalPositionalEncoding

    lengths = [int(m.table.shape[0]) for m in net.modules() if isinstance(m, SinusoidalPositionalEncoding)]
    return min(lengths) if lengths else None


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelError("the onnx backend needs onnxruntime (pip install onnxruntime)") from exc
    return onnxruntime


def onnx_problem(folder: Path, card: dict[str, Any]) -> str | None:
    """Why ``folder``'s ONNX export cannot be used (missing entry or file, checksum mismatch, no
    onnxruntime), or None when it can. The messages name the file."""
    from .modelio import CARD_NAME, _sha256

    entry = card.get("onnx")
    if not isinstance(entry, dict) or not entry.get("file"):
        return f"{folder / CARD_NAME}: no ONNX export recorded (run: drumscribe export-onnx {folder})"
    path = folder / str(entry["file"])
    if not path.is_file():
        return f"{path}: ONNX file missing (run: drumscribe export-onnx {folder})"
    if not entry.get("sha256") or _sha256(path) != entry["sha256"]:
        return f"{path}: checksum mismatch with {CARD_NAME} (file corrupt or replaced; re-export it)"
    if entry.get("weights_sha256") != card.get("weights_sha256"):
        return f"{path}: exported from other weights than {CARD_NAME} names (stale; re-export it)"
    if entry.get("articulation_sha256") != (card.get("articulation") or {}).get("sha256"):
        return f"{path}: exported with another articulation head than {CARD_NAME} names (stale; re-export it)"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return f"{path}: onnxruntime is not installed (pip install onnxruntime)"
    return None


def physical_cores() -> int:
    """Physical CPU cores this process may use (hyper-threads not counted), at least 1."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        cores = set()
        phys = core = None
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "physical id":
                    phys = value.strip()
                elif key == "core id":
                    core = value.strip()
                elif not key and core is not None:
                    cores.add((phys, core))
                    phys = core = None
        if core is not None:
            cores.add((phys, core))
        n = len(cores) or usable
    except OSError:
        n = usable
    return max(1, min(n, usable))


class OnnxNet:
    """An ONNX Runtime session with the torch network's interface on numpy arrays:
    ``net(features)`` maps standardised (batch, 1, time, bands) float32 to logits (batch, time, classes)."""

    backend = "onnx"

    def __init__(self, path: Path, threads: int | None = None, max_frames: int | None = None):
        ort = _import_onnxruntime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or physical_cores()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # idle threads sleep instead of spinning: on a shared CPU (training jobs, web workers) spinning
        # threads steal the cores the working ones need (measured: 0.34 s -> 0.27 s per 27 s window)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.max_frames = max_frames
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{path}: ONNX Runtime cannot load this model ({exc})") from exc

    def __call__(self, features: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(features, dtype=np.float32)
        if self.max_frames is not None and x.shape[2] > self.max_frames:
            raise ModelError(
                f"{self.path}: this ONNX export handles at most {self.max_frames} frames per window, got "
                f"{x.shape[2]} (use a shorter chunk_s / --chunk-s, or the torch backend)"
            )
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]


def load_onnx_net(folder: Path, card: dict[str, Any]) -> OnnxNet:
    """The verified ONNX export of a model folder; :class:`ModelError` naming the file when unusable."""
    problem = onnx_problem(folder, card)
    if problem:
        raise ModelError(problem)
    entry = card["onnx"]
    return OnnxNet(folder / str(entry["file"]), max_frames=entry.get("max_frames"))


def choose_backend(folder: Path, card: dict[str, Any], device: Any, backend: str) -> str:
    """``"onnx"`` or ``"torch"`` for a requested ``backend``: ``auto`` takes ONNX on the CPU when the
    folder's export is usable (see :func:`onnx_problem`); ``onnx`` raises ModelError when it is not."""
    if backend not in BACKENDS:
        raise ModelError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if backend == "torch":
        return "torch"
    on_cpu = str(device).lower() == "cpu"
    if backend == "onnx":
        if not on_cpu:
            raise ModelError(
                f"backend 'onnx' runs on the CPU only, got device {device!r} (use --backend torch)"
            )
        problem = onnx_problem(folder, card)
        if problem:
            raise ModelError(problem)
        return "onnx"
    if not on_cpu:
        return "torch"
    problem = onnx_problem(folder, card)
    if problem is None:
        return "onnx"
    if card.get("onnx"):  # an export is recorded but unusable: say why torch is used
        log.warning("%s; using the torch backend", problem)
    return "torch"


# --- CLI ---------------------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export-onnx",
        help="export a model folder to ONNX (model.onnx) for fast CPU inference without torch",
        description="Write MODEL/model.onnx from the folder's torch weights, check that ONNX Runtime and "
        "torch agree, and record the file and its SHA-256 in MODEL/model.json. Needs the onnx package.",
    )
    p.add_argument("model", metavar="MODEL", help="model folder, run folder or shipped model name")
    p.add_argument("--opset", type=int, default=ONNX_OPSET, help=f"ONNX opset (default: {ONNX_OPSET})")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    path = export_onnx(args.model, opset=args.opset)
    print(f"{path}: exported and checked (opset {args.opset})")
    return 0
