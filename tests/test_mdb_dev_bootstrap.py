"""benchmarks/mdb_dev.py --bootstrap: counts per segment and the paired block bootstrap of F1 differences."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from mdb_dev import main, paired_bootstrap, segment_counts  # noqa: E402

from drumscribe.scoring import evaluate_onsets  # noqa: E402


def test_segment_counts_place_each_hit_miss_and_false_hit_and_add_up_to_the_score():
    ref = [np.array([0.5, 4.0, 12.0]), np.array([9.9])]
    est = [np.array([0.52, 12.3, 15.0]), np.array([9.95, 10.02])]
    seg = segment_counts(ref, est, 0.05, 10.0)
    # class 0: 0.5 hit, 4.0 missed, 12.0 missed (12.3 is too far) with 12.3 and 15.0 false; class 1: 9.9 hit
    # (counted at the annotated time, segment 0) and 10.02 false in segment 1
    assert seg == {0: [2, 0, 1], 1: [0, 3, 1]}
    total = np.sum(list(seg.values()), axis=0).tolist()
    s = evaluate_onsets(ref, est, window_s=0.05)
    assert total == [sum(s.tp), sum(s.fp), sum(s.fn)]


def _result(model, condition, segments):
    return {"model": model, "condition": condition, "segment_counts": segments}


def test_paired_bootstrap_reads_no_difference_as_none_and_a_steady_gain_as_one():
    rng = np.random.default_rng(1)
    base = {
        f"t@{i}": [int(rng.integers(5, 20)), int(rng.integers(0, 5)), int(rng.integers(0, 5))]
        for i in range(30)
    }
    better = {k: [tp + 1, max(fp - 1, 0), fn] for k, (tp, fp, fn) in base.items()}  # better in every segment
    results = [
        _result("base", "mix", base),
        _result("base", "drums", base),
        _result("same", "mix", dict(base)),
        _result("same", "drums", dict(base)),
        _result("better", "mix", better),
        _result("better", "drums", base),
    ]
    rows = {(r["model"], r["condition"]): r for r in paired_bootstrap(results, 500, seed=3)}
    assert set(rows) == {(m, c) for m in ("same", "better") for c in ("mix", "drums", "sum")}
    same = rows[("same", "sum")]
    assert same["difference"] == 0 and same["interval_95"] == [0, 0] and same["share_at_most_0"] == 1.0
    mix = rows[("better", "mix")]
    assert mix["difference"] > 0 and mix["interval_95"][0] > 0 and mix["share_at_most_0"] == 0.0
    assert rows[("better", "drums")]["difference"] == 0
    assert rows[("better", "sum")]["difference"] == mix["difference"]
    assert mix["segments"] == 30 and mix["resamples"] == 500
    # a gain in one segment only is not read as a sure one
    lucky = dict(base)
    lucky["t@0"] = [base["t@0"][0] + 6, 0, 0]
    rows = paired_bootstrap([_result("base", "mix", base), _result("lucky", "mix", lucky)], 500, seed=3)
    assert rows[0]["difference"] > 0 and rows[0]["interval_95"][0] == 0 and rows[0]["share_at_most_0"] > 0.3


def test_bootstrap_needs_two_models(capsys):
    with pytest.raises(SystemExit):
        main(["--bootstrap", "100"])
    assert "two or more --model" in capsys.readouterr().err
