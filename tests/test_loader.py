"""WindowDataset: windows equal slices of the stored track, tiles cover tracks, sampling follows length x
weight, union statistics, DataLoader workers, and flat memory when the number of tracks grows tenfold."""

from __future__ import annotations

import gc
import math
import tracemalloc

import numpy as np
import pytest
import torch

from drumscribe.data.loader import WindowDataset, combined_statistics, window_targets
from drumscribe.data.store import Store, StoreWriter
from drumscribe.errors import ConfigError
from drumscribe.targets import onsets_to_targets

FC = {"sample_rate_hz": 44100, "frame_size": 2048, "fps": 100, "num_bands": 12}


def build(root, lengths, splits=None, seed=0, name="toy", segment_frames=0):
    rng = np.random.default_rng(seed)
    w = StoreWriter(root, name, FC)
    for i, n in enumerate(lengths):
        split = splits[i] if splits else "train"
        feats = rng.uniform(0, 3, (n, 84)).astype(np.float32)
        if segment_frames:
            y = (rng.random((n, 5)) < 0.02).astype(np.float32)
            w.write_track(f"t{i:05d}", split, feats, None, targets=y, meta={"segment_frames": segment_frames})
        else:
            onsets = [np.sort(rng.uniform(-0.05, n / 100 + 0.05, 20)) for _ in range(5)]
            onsets[0] = np.concatenate([onsets[0], [0.0, (n - 1) / 100, 3.995, 4.005]])  # edges, half frames
            w.write_track(f"t{i:05d}", split, feats, onsets)
    w.finalize()
    return Store(root)


def test_window_targets_equal_whole_track_targets(tmp_path):
    store = build(tmp_path / "s", [537])
    tid = store.track_ids()[0]
    full = onsets_to_targets(store.onsets(tid), 537)
    frames = [np.sort(np.rint(o * 100).astype(np.int64)) for o in store.onsets(tid)]
    for start in (-3, 0, 1, 137, 398, 399, 400, 401, 500, 530):
        for length in (1, 7, 400):
            got = window_targets(frames, start, start + length, 537)
            want = np.zeros((length, 5), dtype=np.float32)
            lo, hi = max(start, 0), min(start + length, 537)
            if hi > lo:
                want[lo - start : hi - start] = full[lo:hi]
            np.testing.assert_array_equal(got, want, err_msg=f"start {start} length {length}")


def test_train_windows_are_standardised_slices(tmp_path):
    store = build(tmp_path / "s", [900, 450, 1200])
    ds = WindowDataset(store, "train", window_frames=400, mode="train", seed=3)
    assert ds.mean == pytest.approx(store.stats["mean"]) and ds.std == pytest.approx(store.stats["std"])
    assert len(ds) == (900 + 450 + 1200) // 400
    for i in range(len(ds)):
        x, y = ds[i]
        t, start = ds.draw(i)
        assert x.shape == (1, 400, 84) and x.dtype == torch.float32 and y.shape == (400, 5)
        tid = ds.track_id(t)
        raw = np.asarray(store.features(tid), dtype=np.float32)[start : start + 400]
        np.testing.assert_allclose(x[0].numpy(), (raw - ds.mean) / ds.std, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(y.numpy(), store.targets(tid)[start : start + 400])
        assert 0 <= start <= store.records[tid].n_frames - 400
    # reproducible per (seed, epoch, index); another epoch draws other windows
    first = [ds.draw(i) for i in range(len(ds))]
    assert first == [ds.draw(i) for i in range(len(ds))]
    ds.set_epoch(1)
    assert first != [ds.draw(i) for i in range(len(ds))]


def test_sampling_follows_length_times_weight(tmp_path):
    a = build(tmp_path / "a", [1000, 3000], name="a")
    b = build(tmp_path / "b", [2000], name="b", seed=1)
    ds = WindowDataset([a, b], "train", mode="train", weights=[1.0, 3.0], epoch_windows=6000)
    counts = np.bincount([ds.draw(i)[0] for i in range(len(ds))], minlength=3)
    p = np.array([1000, 3000, 2000 * 3.0])
    p /= p.sum()
    expected = p * len(ds)
    chi2 = float((((counts - expected) ** 2) / expected).sum())
    assert chi2 < 13.8, (counts, expected)  # p = 0.001 for 2 degrees of freedom


def test_eval_tiles_cover_tracks(tmp_path):
    store = build(tmp_path / "s", [900, 400, 37, 1201], splits=["validation"] * 4)
    stats = {"mean": 1.5, "std": 0.8}
    ds = WindowDataset(store, "validation", window_frames=400, mode="eval", **stats)
    assert len(ds) == 3 + 1 + 1 + 4
    per_track: dict[int, list] = {}
    for i in range(len(ds)):
        t, start = ds.tile(i)
        per_track.setdefault(t, []).append((start, *ds[i]))
    for t, tiles in per_track.items():
        tid = ds.track_id(t)
        n = store.records[tid].n_frames
        x = torch.cat([tile[1][0] for tile in tiles]).numpy()[:n]
        y = torch.cat([tile[2] for tile in tiles]).numpy()
        assert [tile[0] for tile in tiles] == list(range(0, n, 400))
        np.testing.assert_allclose(
            x * 0.8 + 1.5, np.asarray(store.features(tid), dtype=np.float32), atol=1e-5
        )
        np.testing.assert_array_equal(y[:n], store.targets(tid))
        assert not y[n:].any()
        item = ds.track(t)
        assert item.track_id == tid and item.features.shape == (1, n, 84)
        for c in range(5):
            np.testing.assert_allclose(item.onsets[c], store.onsets(tid)[c])
    assert [it.track_id for it in ds.iter_tracks()] == store.track_ids("validation")
    whole = WindowDataset(store, "validation", mode="track", **stats)
    assert len(whole) == 4 and whole[2][0].shape == (1, 37, 84)


def test_combined_statistics_equal_union(tmp_path):
    a = build(tmp_path / "a", [300, 500, 200], splits=["train", "train", "test"], name="a")
    b = build(tmp_path / "b", [700], name="b", seed=5)
    c = build(tmp_path / "c", [100], splits=["test"], name="c", seed=6)  # no training split: left out
    stats = combined_statistics([a, b, c])
    assert stats["stores"] == ["a", "b"]
    feats = [
        np.asarray(s.features(t), dtype=np.float64).ravel() for s in (a, b) for t in s.track_ids("train")
    ]
    x = np.concatenate(feats)
    assert stats["mean"] == pytest.approx(x.mean(), rel=1e-9) and stats["std"] == pytest.approx(
        x.std(), rel=1e-7
    )
    y = np.concatenate([s.targets(t) for s in (a, b) for t in s.track_ids("train")])
    p = np.maximum((y == 1.0).mean(axis=0), 1e-10)
    want = 1 / (-p * np.log(p) - (1 - p) * np.log(1 - p))
    np.testing.assert_allclose(stats["class_weights"], want, rtol=1e-9)
    ds = WindowDataset([a, b], "train")
    assert ds.mean == pytest.approx(stats["mean"]) and ds.std == pytest.approx(stats["std"])
    with pytest.raises(ConfigError, match="split"):
        combined_statistics([c])


def test_segmented_store_windows_stay_in_one_segment(tmp_path):
    store = build(tmp_path / "s", [2000, 1200], segment_frames=400)
    ds = WindowDataset(store, "train", window_frames=100, epoch_windows=300)
    for i in range(len(ds)):
        t, start = ds.draw(i)
        assert start // 400 == (start + 99) // 400
        _, y = ds[i]
        np.testing.assert_array_equal(y.numpy(), store.targets(ds.track_id(t))[start : start + 100])


def test_augment_sees_raw_features_with_the_window_generator(tmp_path):
    store = build(tmp_path / "s", [900, 700])
    seen = []

    def augment(x, rng):
        seen.append(x.copy())
        return x + rng.uniform(0, 1)

    ds = WindowDataset(store, "train", window_frames=100, seed=2, epoch_windows=20, augment=augment)
    plain = WindowDataset(store, "train", window_frames=100, seed=2, epoch_windows=20)
    ds.set_epoch(3)
    plain.set_epoch(3)
    for i in range(len(ds)):
        x, y = ds[i]
        t, start = plain.draw(i)
        raw = np.asarray(store.features(plain.track_id(t))[start : start + 100], dtype=np.float32)
        np.testing.assert_array_equal(seen[-1], raw)  # before standardisation
        rng = plain.window_rng(i)
        plain.draw(i, rng)
        shift = rng.uniform(0, 1)
        np.testing.assert_allclose(x[0].numpy(), (raw + shift - ds.mean) / ds.std, rtol=1e-5, atol=1e-5)
        assert torch.equal(y, plain[i][1])
    eval_ds = WindowDataset(store, "train", window_frames=100, mode="eval", augment=augment)
    n = len(seen)
    eval_ds[0]
    assert len(seen) == n  # evaluation windows are never augmented


def test_mixed_windows_sum_two_draws_and_unite_their_targets(tmp_path):
    store = build(tmp_path / "s", [900, 700, 800])
    pairs = []

    def mix(a, b, rng):
        pairs.append((a.copy(), b.copy()))
        return a + b + rng.uniform(0, 1)

    ds = WindowDataset(store, "train", window_frames=100, seed=4, epoch_windows=40, mix=mix, mix_prob=0.5)
    plain = WindowDataset(store, "train", window_frames=100, seed=4, epoch_windows=40)
    n_mixed = 0
    for i in range(len(ds)):
        x, y = ds[i]
        rng = plain.window_rng(i)
        t, start = plain.draw(i, rng)
        if rng.random() >= 0.5:  # not mixed: the plain window
            assert torch.equal(y, plain[i][1]) and torch.equal(x, plain[i][0])
            continue
        n_mixed += 1
        t2, start2 = plain.draw(i, rng)
        shift = rng.uniform(0, 1)
        raw = [
            np.asarray(store.features(plain.track_id(k))[s : s + 100], dtype=np.float32)
            for k, s in ((t, start), (t2, start2))
        ]
        np.testing.assert_array_equal(pairs[-1][0], raw[0])
        np.testing.assert_array_equal(pairs[-1][1], raw[1])
        np.testing.assert_allclose(
            x[0].numpy(), (raw[0] + raw[1] + shift - ds.mean) / ds.std, rtol=1e-5, atol=1e-5
        )
        targets = [store.targets(plain.track_id(k))[s : s + 100] for k, s in ((t, start), (t2, start2))]
        np.testing.assert_array_equal(y.numpy(), np.maximum(*targets))
    assert 10 <= n_mixed <= 30
    again = WindowDataset(store, "train", window_frames=100, seed=4, epoch_windows=40, mix=mix, mix_prob=0.5)
    assert all(torch.equal(again[i][0], ds[i][0]) for i in range(len(ds)))  # reproducible
    with pytest.raises(ConfigError, match="mix_prob"):
        WindowDataset(store, "train", window_frames=100, mix=mix, mix_prob=1.5)


def test_velocity_floors_drop_soft_training_onsets_only(tmp_path):
    rng = np.random.default_rng(5)
    w = StoreWriter(tmp_path / "s", "toy", FC)
    onsets = [np.sort(rng.uniform(0.1, 7.9, 30)) for _ in range(5)]
    velocities = [rng.uniform(0.05, 1.0, 30) for _ in range(5)]
    w.write_track("t0", "train", rng.uniform(0, 3, (800, 84)).astype(np.float32), onsets, velocities)
    w.finalize()
    store = Store(tmp_path / "s")
    floors = [0.0, 0.4, 0.0, 0.0, 0.2]
    ds = WindowDataset(store, "train", window_frames=800, seed=1, min_velocity=floors)
    kept = [o[v >= f] for o, v, f in zip(onsets, velocities, floors)]
    assert 0 < len(kept[1]) < 30 and 0 < len(kept[4]) < 30  # the draw holds soft and loud strokes
    np.testing.assert_array_equal(ds.window(0, 0)[1].numpy(), onsets_to_targets(kept, 800))
    # no floors, or evaluation: every onset stays a target
    full = onsets_to_targets(onsets, 800)
    np.testing.assert_array_equal(WindowDataset(store, "train", 800, seed=1).window(0, 0)[1].numpy(), full)
    ev = WindowDataset(store, "train", 800, mode="eval", min_velocity=floors)
    np.testing.assert_array_equal(ev[0][1].numpy(), full)
    for bad in ([0.5] * 4, [0.0, 1.0, 0.0, 0.0, 0.0], [-0.1] + [0.0] * 4):
        with pytest.raises(ConfigError, match="min_velocity"):
            WindowDataset(store, "train", 800, min_velocity=bad)


def test_dataloader_with_two_workers(tmp_path):
    store = build(tmp_path / "s", [800, 1300, 600])
    ds = WindowDataset(store, "train", window_frames=200, seed=1)
    serial = [b for b in torch.utils.data.DataLoader(ds, batch_size=4, num_workers=0)]
    parallel = [b for b in torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2)]
    assert len(serial) == len(parallel) == math.ceil(len(ds) / 4)
    for (xs, ys), (xp, yp) in zip(serial, parallel):
        assert torch.equal(xs, xp) and torch.equal(ys, yp)


def _peak_while_sampling(root, n_tracks: int) -> tuple[int, int]:
    build(root, [500] * n_tracks, seed=n_tracks)
    gc.collect()
    tracemalloc.start()
    ds = WindowDataset(root, "train", window_frames=400, seed=0, epoch_windows=300)
    for i in range(len(ds)):
        ds[i]
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del ds
    return current, peak


def test_memory_stays_flat_with_ten_times_more_tracks(tmp_path, monkeypatch):
    import drumscribe.data.loader as loader

    monkeypatch.setattr(loader, "_CACHE_SIZE", 8)  # the per-worker cache of open tracks is bounded
    small = _peak_while_sampling(tmp_path / "small", 15)
    large = _peak_while_sampling(tmp_path / "large", 150)
    feature_bytes_growth = 135 * 500 * 84 * 2  # 11 MB more features on disk
    # memory held after sampling grows by a few bytes per track (the index), the peak barely grows
    assert large[0] - small[0] < 100 * 135, (small, large)
    assert large[1] - small[1] < 0.02 * feature_bytes_growth, (small, large)


def test_bad_arguments(tmp_path):
    store = build(tmp_path / "s", [500, 500], splits=["train", "test"])
    with pytest.raises(ConfigError, match="mode"):
        WindowDataset(store, "train", mode="fast")
    with pytest.raises(ConfigError, match="2 weights for 1 stores"):
        WindowDataset(store, "train", weights=[1.0, 2.0])
    with pytest.raises(ConfigError, match="no tracks in split 'validation'"):
        WindowDataset(store, "validation")
    test_only = build(tmp_path / "t", [300], splits=["test"], name="t")
    with pytest.raises(ConfigError, match="mean= and std="):
        WindowDataset(test_only, "test", mode="eval")
    w = StoreWriter(tmp_path / "narrow", "narrow", FC)
    w.write_track("x", "train", np.zeros((50, 12)), [np.zeros(0)] * 5)
    w.finalize()
    with pytest.raises(ConfigError, match="feature sizes"):
        WindowDataset([store, tmp_path / "narrow"], "train")
