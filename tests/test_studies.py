"""Studies: naming, settings, resume logic, and reports (tables and figures).

The report tests use FABRICATED cell results: made-up scores that exist only inside these tests, to
check that tables and figures show exactly what the cells hold.
"""

from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path

import numpy as np
import pytest

from drumscribe.errors import ConfigError
from drumscribe.fileio import read_json, write_json
from drumscribe.studies import cells as cells_mod
from drumscribe.studies import report
from drumscribe.studies.cells import (
    CellResult,
    DatasetSpec,
    StudySettings,
    cell_dir,
    cell_label,
    check_fixed_keys,
    parse_combo,
    parse_dataset_specs,
)

CLASSES = ("kick", "snare", "toms", "hihat", "cymbals")


def test_dataset_specs_combos_and_cell_names(tmp_path):
    specs = parse_dataset_specs([f"E={tmp_path}/enst,{tmp_path}/mdb", "S=slakh", "sadtp_x=sadtp"])
    assert list(specs) == ["E", "S", "sadtp_x"]
    assert specs["E"].paths == (str((tmp_path / "enst").resolve()), str((tmp_path / "mdb").resolve()))
    assert Path(specs["S"].paths[0]).is_absolute()
    assert parse_combo("e+S", specs) == ("E", "S")
    assert cell_label(["E", "S", "sadtp_x"]) == "E+S+SADTP-X"
    assert cell_dir(tmp_path, "datasets", "crnn", ["E", "S"]) == tmp_path / "datasets" / "CRNN" / "E+S"
    assert cell_dir(tmp_path, "architecture", "vit", ["S"]) == tmp_path / "architecture" / "VIT" / "S"
    for bad in (["E"], ["E=a", "e=b"], ["E+S=a"], ["=a"]):
        with pytest.raises(ConfigError):
            parse_dataset_specs(bad)
    with pytest.raises(ConfigError, match="unknown dataset"):
        parse_combo("E+G", specs)
    with pytest.raises(ConfigError, match="twice"):
        parse_combo("E+e", specs)
    with pytest.raises(ConfigError):
        cell_dir(tmp_path, "other", "crnn", ["E"])


def test_study_settings_fixed_per_architecture():
    s = StudySettings(fixed={"num_layers": 2, "crnn.num_layers": 3, "lr": [1e-3, 2e-3], "cnn.num_blocks": 1})
    assert s.fixed_for("crnn") == {"num_layers": 3, "lr": [1e-3, 2e-3]}
    assert s.fixed_for("cnn") == {"num_layers": 2, "lr": [1e-3, 2e-3], "num_blocks": 1}
    assert s.fixed_for("vit") == {"num_layers": 2, "lr": [1e-3, 2e-3]}
    t = s.tune_settings("cnn", ["a"])
    assert t.fixed == {"num_layers": 2, "lr": [1e-3, 2e-3], "num_blocks": 1} and t.trials == 15
    check_fixed_keys(s.fixed, ["crnn", "cnn"])
    check_fixed_keys({"vit.patch_size": 7}, ["crnn"])  # another architecture's key: ignored
    with pytest.raises(ConfigError, match="unknown architecture|no search space"):
        check_fixed_keys({"mlp.num_layers": 7}, ["crnn"])
    with pytest.raises(ConfigError, match="has no parameter"):
        check_fixed_keys({"crnn.patch_size": 7}, ["crnn"])
    with pytest.raises(ConfigError, match="no architecture"):
        check_fixed_keys({"patch_size": 7}, ["crnn", "rnn"])


# ------------------------------------------------------------------------------ fabricated cells

# FABRICATED test micro F1 values (not results of any run): arch -> dataset -> score
FAKE_ARCH = {
    "rnn": {"A": 0.61, "B": 0.93},
    "cnn": {"A": 0.72, "B": 0.88},
    "crnn": {"A": 0.85, "B": 0.90},
}
FAKE_PARAMS = {
    "rnn": {"num_layers": 2, "hidden_size": 576, "cell": "gru"},
    "cnn": {"num_blocks": 3, "num_layers": 1, "hidden_size": 72},
    "crnn": {"num_layers": 3, "hidden_size": 288, "cell": "lstm"},
}


def _entry(micro: float, k: int = 0) -> dict:
    """A fabricated pooled-score entry whose class F1 values are distinct and recognisable."""
    return {
        "micro_f1": micro,
        "macro_f1": micro - 0.05,
        "class_f1": [round(micro - 0.01 * (c + k), 4) for c in range(5)],
    }


def fake_arch_cells() -> list[CellResult]:
    out = []
    for arch, scores in FAKE_ARCH.items():
        for name, micro in scores.items():
            other = "B" if name == "A" else "A"
            test = {name: _entry(micro), other: _entry(round(micro / 2, 4), 1), "T": _entry(0.3, 2)}
            out.append(
                CellResult(
                    "architecture", arch, (name,), micro - 0.02, test, FAKE_PARAMS[arch], 1e-3, 1e-4, 7, 2
                )
            )
    return out


def _png_ok(path: Path) -> np.ndarray:
    import matplotlib.image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert float(np.std(img[..., :3])) > 0.01  # not a blank canvas
    return img


def _md_table(md: str, heading: str) -> list[list[str]]:
    """Rows (cells stripped) of the first Markdown table after ``heading``."""
    lines = md[md.index(heading) :].splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("|"))
    rows = []
    for ln in lines[start:]:
        if not ln.startswith("|"):
            break
        rows.append([c.strip() for c in ln.strip("|").split("|")])
    return [rows[0], *rows[2:]]  # drop the separator


def test_architecture_report_tables_and_figures(tmp_path):
    cells = fake_arch_cells()
    record = {"archs": ["rnn", "cnn", "crnn"], "trained": ["A", "B"], "datasets": {"A": [], "B": [], "T": []}}
    record["cross"] = True
    matrix = report.architecture_matrix(cells, ["rnn", "cnn", "crnn", "vit"], ["A", "B"])
    assert matrix == [[0.61, 0.93], [0.72, 0.88], [0.85, 0.90], [None, None]]

    written = report.write_architecture_report(cells, record, tmp_path)
    md = (tmp_path / "architecture.md").read_text()
    table = _md_table(md, "## Test micro F1")
    assert table[0] == ["", "A", "B"]
    assert table[1] == ["RNN", "0.6100", "**0.9300**"]  # best of column B in bold
    assert table[2] == ["CNN", "0.7200", "0.8800"]
    assert table[3] == ["CRNN", "**0.8500**", "0.9000"]
    configs = _md_table(md, "## Chosen configurations")
    assert (
        configs[1][1:] == ["2/576/GRU", "2/576/GRU"]
        and configs[2][1] == "3/1/72"
        and configs[3][1] == "3/288/LSTM"
    )
    cross = _md_table(md, "### CRNN")
    assert cross[0] == ["Train \\ Test", "A", "B", "T"]
    assert cross[1] == ["A", "0.8500", "0.4250 †", "0.3000 †"]  # out-of-domain cells marked
    assert cross[2] == ["B", "0.4500 †", "0.9000", "0.3000 †"]

    with open(tmp_path / "architecture.csv", newline="") as fh:
        rows = {(r["arch"], r["dataset"]): r for r in csv.DictReader(fh)}
    assert len(rows) == 6
    assert float(rows[("cnn", "B")]["test_micro_f1"]) == 0.88
    assert float(rows[("cnn", "B")]["test_f1_toms"]) == pytest.approx(0.86)
    assert rows[("rnn", "A")]["config"] == "2/576/GRU"
    with open(tmp_path / "architecture_cross.csv", newline="") as fh:
        cross_rows = list(csv.DictReader(fh))
    assert len(cross_rows) == 18
    flags = {(r["arch"], r["train"], r["test"]): r["in_domain"] for r in cross_rows}
    assert flags[("rnn", "A", "A")] == "True" and flags[("rnn", "A", "B")] == "False"
    assert flags[("rnn", "A", "T")] == "False"

    for name in ("architecture_by_dataset.png", "architecture_by_arch.png"):
        assert tmp_path / name in written
        _png_ok(tmp_path / name)
        assert f"]({name})" in md


# FABRICATED dataset-study scores: combo -> test set -> score
FAKE_COMBOS = {("E",): {"E": 0.81, "S": 0.53, "X": 0.42}, ("E", "S"): {"E": 0.84, "S": 0.90, "X": 0.47}}


def fake_dataset_cells() -> list[CellResult]:
    return [
        CellResult(
            "datasets",
            "crnn",
            combo,
            0.8,
            {t: _entry(v) for t, v in scores.items()},
            FAKE_PARAMS["crnn"],
            2e-3,
        )
        for combo, scores in FAKE_COMBOS.items()
    ]


def test_datasets_report_marks_out_of_domain(tmp_path):
    cells = fake_dataset_cells()
    combos = [("E",), ("S",), ("E", "S")]  # S alone has no finished cell
    record = {"arch": "crnn", "combos": [list(c) for c in combos], "test_sets": ["E", "S", "X"]}
    values, domain = report.datasets_matrix(cells, combos, ["E", "S", "X"], "crnn")
    assert values == [[0.81, 0.53, 0.42], [None, None, None], [0.84, 0.90, 0.47]]
    assert domain == [[True, False, False], [False, True, False], [True, True, False]]

    report.write_datasets_report(cells, record, tmp_path)
    md = (tmp_path / "datasets.md").read_text()
    table = _md_table(md, "## Test micro F1")
    assert table[1] == ["E", "0.8100", "0.5300 †", "0.4200 †"]
    assert table[2] == ["S", "–", "–", "–"]
    assert table[3] == ["E+S", "0.8400", "0.9000", "0.4700 †"]
    with open(tmp_path / "datasets_matrix.csv", newline="") as fh:
        matrix = list(csv.DictReader(fh))
    assert [r["train"] for r in matrix] == ["E", "S", "E+S"]
    assert float(matrix[2]["S"]) == 0.9 and matrix[1]["E"] == ""
    img = _png_ok(tmp_path / "datasets_heatmap.png")
    assert img.shape[1] > img.shape[0] * 0.8
    _png_ok(tmp_path / "datasets_by_testset.png")


# ------------------------------------------------------------------------------ resume (no Ray)


def _tiny_store(root: Path, name: str, splits=("train", "validation", "test")) -> str:
    from drumscribe.data.store import StoreWriter

    w = StoreWriter(root, name, {"fps": 100})
    for split in splits:
        w.write_track(f"{split}0", split, np.zeros((50, 84), np.float32), [np.array([0.1])] * 5)
    w.finalize()
    return str(root)


@pytest.fixture
def fake_tuning(monkeypatch):
    """Replace tuning and evaluation by recorders that write FABRICATED results (no Ray, no training)."""
    import drumscribe.train.evaluate as evaluate
    import drumscribe.tune.runner as runner

    calls = {"tune": [], "eval": [], "fig": []}

    save_settings = runner._load_or_save_settings  # the real tune.json, as a finished cell has it

    def fake_run_tune(settings, out_dir, resume=False):
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        save_settings(settings, out, resume=True)
        calls["tune"].append((settings.arch, tuple(Path(p).name for p in settings.data)))
        results = {
            "best_val_micro_f1": 0.5,
            "arch_params": {"num_layers": 2},
            "lr": 1e-3,
            "seed": settings.seed,
        }
        write_json(out / "results.json", results)
        return results

    def fake_evaluate(model, stores, split="test", **kw):
        calls["eval"].append((Path(model).parent.name, tuple(Path(s).name for s in stores)))
        return {"pooled": _entry(0.25), "datasets": {}}

    monkeypatch.setattr(runner, "run_tune", fake_run_tune)
    monkeypatch.setattr(runner, "ray_session", lambda *a, **k: contextlib.nullcontext())
    monkeypatch.setattr(evaluate, "evaluate_model", fake_evaluate)
    # figures are tested above; here only count them (matplotlib is slow on a loaded machine)
    monkeypatch.setattr(report, "grouped_bars", lambda path, *a, **k: calls["fig"].append(Path(path).name))
    monkeypatch.setattr(report, "heatmap", lambda path, *a, **k: calls["fig"].append(Path(path).name))
    return calls


def test_studies_resume_and_reuse_cells(tmp_path, fake_tuning):
    from drumscribe.studies.architecture import run_architecture_study
    from drumscribe.studies.datasets import run_datasets_study

    data = {
        "A": DatasetSpec("A", (_tiny_store(tmp_path / "a", "a"),)),
        "B": DatasetSpec("B", (_tiny_store(tmp_path / "b", "b"),)),
        "T": DatasetSpec("T", (_tiny_store(tmp_path / "t", "t", splits=("test",)),)),  # test only
    }
    study = tmp_path / "study"
    settings = StudySettings(trials=3, epochs=2, seed=9, fixed={"num_layers": 2})
    cells = run_architecture_study(data, ["crnn", "cnn"], study, settings)
    assert sorted(fake_tuning["tune"]) == [
        ("cnn", ("a",)),
        ("cnn", ("b",)),
        ("crnn", ("a",)),
        ("crnn", ("b",)),
    ]
    assert len(cells) == 4 and all(set(c.test) == {"A", "B", "T"} for c in cells)  # T: test set only
    assert len(fake_tuning["eval"]) == 12
    assert (study / "architecture" / "CRNN" / "B" / "results.json").is_file()
    assert read_json(study / "study.json")["architecture"]["trained"] == ["A", "B"]
    assert (study / "report" / "architecture.md").is_file()

    n_fig = len(fake_tuning["fig"])
    assert n_fig == 2 * 5  # bars per dataset and per architecture: after each of 4 new cells, and at the end

    # the same command again: nothing recomputed, the report written once
    run_architecture_study(data, ["crnn", "cnn"], study, settings)
    assert len(fake_tuning["tune"]) == 4 and len(fake_tuning["eval"]) == 12
    assert len(fake_tuning["fig"]) == n_fig + 2
    # a lost cell (no results.json) is the only one redone
    (study / "architecture" / "CNN" / "A" / "results.json").unlink()
    run_architecture_study(data, ["crnn", "cnn"], study, settings)
    assert fake_tuning["tune"][4:] == [("cnn", ("a",))] and len(fake_tuning["eval"]) == 12

    # dataset study: single-dataset combos reuse the architecture study's CRNN cells, A+B is tuned
    cells = run_datasets_study(data, [("A",), ("A", "B")], study, test_sets=["A", "T"], settings=settings)
    assert fake_tuning["tune"][5:] == [("crnn", ("a", "b"))]
    assert [c.path for c in cells] == [
        str(study / "architecture" / "CRNN" / "A"),
        str(study / "datasets" / "CRNN" / "A+B"),
    ]
    assert fake_tuning["eval"][12:] == [("A+B", ("a",)), ("A+B", ("t",))]
    md = (study / "report" / "datasets.md").read_text()
    assert "| A+B | 0.2500 | 0.2500 † |" in md
    with pytest.raises(ConfigError, match="test-only"):
        run_datasets_study(data, [("T",)], study, settings=settings)
    # an architecture cell searched with another budget is not reused: A alone is tuned again for this study
    other = tmp_path / "study2"
    run_architecture_study(data, ["crnn"], other, settings)
    more = StudySettings(trials=5, epochs=2, seed=9, fixed={"num_layers": 2})
    cells = run_datasets_study(data, [("A",)], other, test_sets=["A"], settings=more)
    assert fake_tuning["tune"][-1] == ("crnn", ("a",))
    assert [c.path for c in cells] == [str(other / "datasets" / "CRNN" / "A")]


def test_a_dataset_name_keeps_one_meaning_in_a_study_folder(tmp_path, fake_tuning):
    """A name pointing at other stores than its finished cell was tuned on is refused, not reported with the
    old cell's scores; the dataset study then tunes its own cell instead of reusing the architecture study's;
    names that would share a cell folder are refused; a test set's scores are redone for other stores."""
    from drumscribe.studies.architecture import run_architecture_study
    from drumscribe.studies.datasets import run_datasets_study

    a, b = _tiny_store(tmp_path / "a", "a"), _tiny_store(tmp_path / "b", "b")
    study, settings = tmp_path / "study", StudySettings(trials=2, epochs=1)
    run_architecture_study({"E": DatasetSpec("E", (a,))}, ["crnn"], study, settings)
    with pytest.raises(ConfigError, match="other stores"):
        run_architecture_study({"E": DatasetSpec("E", (b,))}, ["crnn"], study, settings)
    cells = run_datasets_study({"E": DatasetSpec("E", (b,))}, [("E",)], study, settings=settings)
    assert fake_tuning["tune"][-1] == ("crnn", ("b",))
    assert [c.path for c in cells] == [str(study / "datasets" / "CRNN" / "E")]
    with pytest.raises(ConfigError, match="share one cell folder"):
        run_architecture_study(
            {"E_1": DatasetSpec("E_1", (a,)), "E-1": DatasetSpec("E-1", (b,))}, ["crnn"], study, settings
        )
    with pytest.raises(ConfigError, match="share one cell folder"):
        parse_dataset_specs([f"E_1={a}", f"e-1={b}"])
    cell = study / "architecture" / "CRNN" / "E"
    n_eval = len(fake_tuning["eval"])
    cells_mod.evaluate_cell(cell, {"T": DatasetSpec("T", (a,))})
    cells_mod.evaluate_cell(cell, {"T": DatasetSpec("T", (a,))})  # scored already
    cells_mod.evaluate_cell(cell, {"T": DatasetSpec("T", (b,))})  # the name now means other stores
    assert [e[1] for e in fake_tuning["eval"][n_eval:]] == [("a",), ("b",)]


def test_a_study_run_in_parts_reports_every_part(tmp_path, fake_tuning):
    from drumscribe.studies.architecture import run_architecture_study

    data = {"A": DatasetSpec("A", (_tiny_store(tmp_path / "a", "a"),))}
    study, settings = tmp_path / "study", StudySettings(trials=2, epochs=1)
    run_architecture_study(data, ["crnn"], study, settings)
    run_architecture_study(data, ["cnn"], study, settings)  # the second part, e.g. on another machine
    assert read_json(study / "study.json")["architecture"]["archs"] == ["crnn", "cnn"]
    md = (study / "report" / "architecture.md").read_text()
    assert "| CRNN |" in md and "| CNN |" in md


def test_cli_report_and_errors(tmp_path, capsys):
    from drumscribe.cli import main

    assert main(["study", "report", str(tmp_path)]) == 1
    assert "not a study folder" in capsys.readouterr().err
    cell = cell_dir(tmp_path, "architecture", "crnn", ["A"])
    write_json(
        cell / "results.json", {"best_val_micro_f1": 0.7, "arch_params": FAKE_PARAMS["crnn"], "n_trials": 2}
    )
    write_json(cell / "tests.json", {"A": {"pooled": _entry(0.77)}})  # FABRICATED score
    cells_mod.record_study(
        tmp_path, "architecture", {"datasets": {"A": ["a"]}, "archs": ["crnn"], "trained": ["A"]}
    )
    assert main(["study", "report", str(tmp_path)]) == 0
    md = (tmp_path / "report" / "architecture.md").read_text()
    assert "| CRNN | 0.7700 |" in md and "| CRNN (L/H/cell) | 3/288/LSTM |" in md
    code = main(
        ["study", "datasets", "--datasets", f"A={tmp_path}", "--combos", "A+Z", "--out", str(tmp_path / "s")]
    )
    assert code == 1
    assert "unknown dataset" in capsys.readouterr().err
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["study", "report", str(tmp_path)]) == 0
    assert "architecture.md" in buf.getvalue()
