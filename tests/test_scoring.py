"""Onset scoring: the standard protocol against mir_eval, the thesis protocol against SPEC 8."""

from __future__ import annotations

import json
import warnings

import mir_eval
import numpy as np
import pytest

from drumscribe.scoring import OnsetScores, evaluate_onsets, thesis_counts


def _random_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Reference and estimate of one class, with edge-of-window offsets, duplicates and empty lists."""
    n_ref, n_est = rng.integers(0, 25, 2)
    step = rng.choice([0.01, 0.005, 0.001])  # coarse grids make exact window edges common
    ref = np.round(rng.uniform(0, 3, n_ref) / step) * step
    est = np.round(rng.uniform(0, 3, n_est) / step) * step
    kind = rng.integers(0, 5)
    if kind == 0 and len(ref):  # estimates exactly at the window edge, both sides
        edge = ref[rng.integers(0, len(ref), 4)] + rng.choice([-0.05, 0.05], 4)
        est = np.concatenate([est, edge])
    elif kind == 1 and len(est):  # duplicated estimates
        est = np.concatenate([est, est[rng.integers(0, len(est), 3)]])
    elif kind == 2 and len(ref):  # duplicated references
        ref = np.concatenate([ref, ref[:3]])
    elif kind == 3:  # jittered copies
        est = np.concatenate([est, ref + rng.normal(0, 0.03, len(ref))])
    return np.sort(ref), np.sort(est)


def _mir_eval_prf(ref, est, window):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mir_eval warns about empty lists
        return mir_eval.onset.f_measure(ref, est, window=window)


def test_standard_equals_mir_eval_on_random_cases():
    rng = np.random.default_rng(2024)
    n_cases = 0
    for _ in range(300):  # 300 tracks x 5 classes = 1500 cases
        window = float(rng.choice([0.05, 0.05, 0.03, 0.1]))
        cases = [_random_case(rng) for _ in range(5)]
        ref = [c[0] for c in cases]
        est = [rng.permutation(c[1]) for c in cases]  # order must not matter
        scores = evaluate_onsets(ref, est, window_s=window)
        tp = fp = fn = 0
        for c, (r, e) in enumerate(cases):
            f, p, rec = _mir_eval_prf(r, e, window)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                matched = len(mir_eval.util.match_events(r, e, window))
            assert scores.tp[c] == matched, (r.tolist(), e.tolist())
            assert (scores.fp[c], scores.fn[c]) == (len(e) - matched, len(r) - matched)
            assert scores.class_f1[c] == pytest.approx(f, abs=1e-12)
            assert scores.class_precision[c] == pytest.approx(p, abs=1e-12)
            assert scores.class_recall[c] == pytest.approx(rec, abs=1e-12)
            tp, fp, fn = tp + matched, fp + len(e) - matched, fn + len(r) - matched
            n_cases += 1
        expected_micro = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
        assert scores.micro_f1 == pytest.approx(expected_micro, abs=1e-12)
        assert scores.macro_f1 == pytest.approx(np.mean(scores.class_f1), abs=1e-12)
    assert n_cases >= 1000


def test_window_edge_and_duplicates_table():
    # exact float edges follow mir_eval: est - w <= ref <= est + w
    cases = [
        ([1.0], [1.05], 1),
        ([1.0], [0.95], 1),
        ([1.0], [1.0500001], 0),
        ([1.0, 1.0], [1.0], 1),  # duplicated reference: one match, one miss
        ([1.0], [1.0, 1.0, 1.01], 1),  # duplicated estimate: one match, two false alarms
        ([0.0, 0.1], [0.05], 1),  # one estimate cannot serve two references
        ([0.0, 0.06], [0.03, 0.09], 2),  # greedy-by-distance would find 1 match, the maximum is 2
    ]
    for ref, est, expected in cases:
        s = evaluate_onsets([np.array(ref)], [np.array(est)], window_s=0.05)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert s.tp[0] == expected == len(mir_eval.util.match_events(np.array(ref), np.array(est), 0.05))


def test_empty_inputs_follow_mir_eval():
    empty = np.zeros(0)
    s = evaluate_onsets([empty, np.array([1.0]), empty], [empty, empty, np.array([2.0])])
    assert s.tp == [0, 0, 0] and s.fp == [0, 0, 1] and s.fn == [0, 1, 0]
    assert s.class_f1 == [0.0, 0.0, 0.0]
    assert s.micro_f1 == 0.0 and s.macro_f1 == 0.0


def test_sum_gives_micro_over_tracks_and_json_round_trip():
    rng = np.random.default_rng(5)
    scores = []
    for _ in range(4):
        ref = [np.sort(rng.uniform(0, 5, 10)) for _ in range(5)]
        est = [np.sort(np.concatenate([r[:7] + 0.01, rng.uniform(0, 5, 2)])) for r in ref]
        scores.append(evaluate_onsets(ref, est))
    total = OnsetScores.sum(scores)
    assert total.tp == [sum(s.tp[c] for s in scores) for c in range(5)]
    tp, fp, fn = sum(total.tp), sum(total.fp), sum(total.fn)
    assert total.micro_f1 == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert total.precision == pytest.approx(tp / (tp + fp)) and total.recall == pytest.approx(tp / (tp + fn))
    d = json.loads(json.dumps(total.to_dict()))
    assert d["classes"] == ["kick", "snare", "toms", "hihat", "cymbals"]
    assert d["micro_f1"] == pytest.approx(total.micro_f1)
    assert OnsetScores.from_dict(d) == total
    with pytest.raises(ValueError):
        OnsetScores.sum([total, evaluate_onsets([[]] * 5, [[]] * 5, protocol="thesis")])


def test_bad_inputs():
    with pytest.raises(ValueError, match="classes"):
        evaluate_onsets([[1.0]] * 5, [[1.0]] * 4)
    with pytest.raises(ValueError, match="finite"):
        evaluate_onsets([[np.nan]], [[1.0]])
    with pytest.raises(ValueError, match="protocol"):
        evaluate_onsets([[1.0]], [[1.0]], protocol="other")


# ---- thesis protocol (SPEC 8) ----


def test_thesis_table():
    empty: list[float] = []
    ref = [[1.00], [3.99], [0.0], empty, [2.0]]
    est = [[1.054], [4.01], [0.056], empty, empty]
    t = evaluate_onsets(ref, est, protocol="thesis")
    s = evaluate_onsets(ref, est)
    # class 0: 1.054 s is frame 105, 5 frames from frame 100: a hit for the thesis, a miss at +-50 ms
    assert (t.tp[0], s.tp[0]) == (1, 0)
    # class 1: frames 399 and 401 lie in different 4 s segments: the thesis cannot match them
    assert (t.tp[1], t.fp[1], t.fn[1]) == (0, 1, 1) and s.tp[1] == 1
    # class 2: frame 6 is 6 frames away
    assert t.tp[2] == 0
    # class 3 is absent from both: precision and recall 0/0 = 1, F1 = 1 (standard: 0)
    assert t.class_f1[3] == 1.0 and s.class_f1[3] == 0.0
    # class 4 has a reference but no estimate: precision 0/0 = 1, recall 0, F1 0
    assert t.class_precision[4] == 1.0 and t.class_recall[4] == 0.0 and t.class_f1[4] == 0.0
    assert t.macro_f1 == pytest.approx(np.mean(t.class_f1))
    tp, fp, fn = sum(t.tp), sum(t.fp), sum(t.fn)
    p, r = tp / (tp + fp), tp / (tp + fn)
    assert t.micro_f1 == pytest.approx(2 * p * r / (p + r))


def test_thesis_counts_a_frame_of_the_label_once():
    """Two annotated onsets that round to one frame are one reference for the thesis (its references are the
    frames of a clipped label), two for the standard protocol (as mir_eval counts them)."""
    ref = [[], [], [], [1.0, 1.0, 1.003, 2.0], []]
    est = [[], [], [], [1.0, 2.0], []]
    t = evaluate_onsets(ref, est, protocol="thesis")
    assert (t.tp[3], t.fp[3], t.fn[3]) == (2, 0, 0) and t.micro_f1 == 1.0
    s = evaluate_onsets(ref, est)
    assert (s.tp[3], s.fp[3], s.fn[3]) == (2, 0, 2)


def test_thesis_counts_equal_maximum_matching_per_segment():
    # the greedy two-pointer pass equals a maximum matching within each segment
    rng = np.random.default_rng(11)
    for _ in range(300):
        ref = np.sort(rng.integers(0, 1200, rng.integers(0, 30)))
        est = np.sort(rng.integers(0, 1200, rng.integers(0, 30)))
        tp = 0
        for seg in range(3):
            r = ref[(ref // 400) == seg].astype(float)
            e = est[(est // 400) == seg].astype(float)
            tp += len(mir_eval.util.match_events(r, e, 5.0)) if len(r) and len(e) else 0
        assert thesis_counts(ref, est, 5, 400) == (tp, len(est) - tp, len(ref) - tp)
