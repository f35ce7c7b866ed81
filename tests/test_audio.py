"""Audio decoding: containers, rates, channels, streaming, and a clear error for each bad input."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import drumscribe.audio as audio
from conftest import SR, music_like, needs_ffmpeg, run_ffmpeg, write_audio
from drumscribe.audio import audio_info, iter_audio_blocks, load_audio
from drumscribe.errors import AudioError, DrumscribeError
from drumscribe.features import log_spectrogram


def _tone(rate: int, duration_s: float, freq_hz: float = 1000.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(round(duration_s * rate))) / rate
    x = np.stack([0.4 * np.sin(2 * np.pi * freq_hz * t + c) for c in range(channels)], axis=1)
    return x.astype(np.float32)


def _peak_hz(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * rate / len(x))


@pytest.mark.parametrize(
    ("ext", "lossless"), [("wav", True), ("flac", True), ("aiff", True), ("ogg", False), ("mp3", False)]
)
def test_containers(tmp_path, ext, lossless):
    x = music_like(2.0)[:, None] * 0.5
    path = write_audio(tmp_path / f"a.{ext}", x)
    samples, sr = load_audio(path)
    assert sr == SR and samples.dtype == np.float32 and samples.ndim == 1
    if lossless:
        assert len(samples) == len(x)
        np.testing.assert_allclose(samples, x[:, 0], atol=1e-4)  # 16-bit quantisation
    else:
        # lossy codecs add a little delay/padding; align by cross-correlation, then compare
        assert abs(len(samples) - len(x)) < 0.1 * SR
        n = min(len(samples), len(x))
        lags = range(-2000, 2001)
        ref = x[5000 : n - 5000, 0]
        best = max(lags, key=lambda k: float(np.dot(ref, samples[5000 + k : n - 5000 + k])))
        seg = samples[5000 + best : n - 5000 + best]
        assert np.corrcoef(ref, seg)[0, 1] > 0.95
        spec_ours = log_spectrogram(samples, sr)
        assert spec_ours.shape[1] == 84


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000])
def test_resampling_keeps_duration_and_pitch(tmp_path, rate):
    path = write_audio(tmp_path / f"t{rate}.wav", _tone(rate, 1.0), rate, subtype="FLOAT")
    samples, sr = load_audio(path)
    assert sr == SR
    assert abs(len(samples) - SR) <= 1
    assert abs(_peak_hz(samples, SR) - 1000.0) <= 2.0
    # a 22.05 kHz output rate works too
    samples2, sr2 = load_audio(path, sample_rate=22050)
    assert sr2 == 22050 and abs(len(samples2) - 22050) <= 1


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_sample_values_equal_libsndfile_float_reading(tmp_path, subtype):
    data = np.random.default_rng(1).uniform(-0.9, 0.9, (5000, 2)).astype(np.float32)
    path = write_audio(tmp_path / f"{subtype}.wav", data, subtype=subtype)
    ref = sf.read(path, dtype="float32")[0]
    samples, _ = load_audio(path)
    np.testing.assert_allclose(samples, ref.mean(axis=1), rtol=0, atol=1e-7)


@pytest.mark.parametrize("channels", [2, 6])
def test_channels_are_averaged(tmp_path, channels):
    rng = np.random.default_rng(channels)
    data = rng.uniform(-0.5, 0.5, (4410, channels)).astype(np.float32)
    path = write_audio(tmp_path / "multi.wav", data, subtype="FLOAT")
    samples, _ = load_audio(path)
    np.testing.assert_allclose(samples, data.mean(axis=1), atol=1e-7)
    info = audio_info(path)
    assert info.channels == channels and info.frames == 4410 and info.duration_s == pytest.approx(0.1)


def test_silence_and_very_short_clips_are_valid(tmp_path):
    for n in (1, 100, 4410):
        path = write_audio(tmp_path / f"s{n}.wav", np.zeros(n, np.float32))
        samples, sr = load_audio(path)
        assert len(samples) == n and not samples.any()
        spec = log_spectrogram(samples, sr)
        assert spec.shape[0] >= 1 and spec.shape[1] == 84 and not spec.any()


def _assert_audio_error(path, *words):
    for fn in (load_audio, audio_info):
        with pytest.raises(AudioError) as err:
            fn(path)
        msg = str(err.value)
        assert str(path) in msg, msg
        assert any(w in msg for w in words), msg
        assert isinstance(err.value, DrumscribeError)


def test_missing_file(tmp_path):
    _assert_audio_error(tmp_path / "nope.wav", "not found")


def test_directory(tmp_path):
    _assert_audio_error(tmp_path, "directory")


def test_text_file_called_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n" * 20)
    _assert_audio_error(path, "not an audio file")


@pytest.mark.parametrize("ext", ["mp3", "flac", "ogg", "aiff"])
def test_text_file_with_other_extensions(tmp_path, ext):
    path = tmp_path / f"notes.{ext}"
    path.write_bytes(b"this is not audio\n" * 20)
    _assert_audio_error(path, "not an audio file", "not audio")


def test_empty_file(tmp_path):
    path = tmp_path / "nothing.wav"
    path.touch()
    _assert_audio_error(path, "empty file")


def test_zero_length(tmp_path):
    path = write_audio(tmp_path / "empty.wav", np.zeros((0, 1), np.float32))
    _assert_audio_error(path, "zero-length")


def test_header_only_is_corrupt(tmp_path):
    full = write_audio(tmp_path / "full.wav", _tone(SR, 0.5))
    path = tmp_path / "header.wav"
    path.write_bytes(full.read_bytes()[:30])
    _assert_audio_error(path, "corrupt")


def test_truncated_wav(tmp_path):
    full = write_audio(tmp_path / "full.wav", _tone(SR, 0.5))
    path = tmp_path / "cut.wav"
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _assert_audio_error(path, "truncated")
    with pytest.raises(AudioError, match="truncated"):
        iter_audio_blocks(path, 1.0, 0.1)  # raised at call time


def test_streamed_wav_with_unknown_size_is_fine(tmp_path):
    # writers that stream set the data size to 0xFFFFFFFF; that is not truncation
    full = write_audio(tmp_path / "full.wav", _tone(SR, 0.2), subtype="PCM_16")
    data = bytearray(full.read_bytes())
    pos = data.index(b"data")
    data[pos + 4 : pos + 8] = struct.pack("<I", 0xFFFFFFFF)
    path = tmp_path / "streamed.wav"
    path.write_bytes(bytes(data))
    assert audio._wav_truncated(path) is None


def test_truncated_flac(tmp_path):
    full = write_audio(tmp_path / "full.flac", music_like(1.0))
    path = tmp_path / "cut.flac"
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="corrupt|truncated") as err:
        load_audio(path)
    assert "cut.flac" in str(err.value)


def test_truncated_mp3(tmp_path):
    full = write_audio(tmp_path / "full.mp3", music_like(3.0))
    path = tmp_path / "cut.mp3"
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(AudioError, match="truncated") as err:
        load_audio(path)
    assert "cut.mp3" in str(err.value)


def test_nan_samples_are_corrupt(tmp_path):
    x = np.zeros(100, np.float32)
    x[50] = np.nan
    path = write_audio(tmp_path / "nan.wav", x, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(path)


@pytest.mark.parametrize(("rate", "channels"), [(44100, 2), (48000, 2), (96000, 6)])
def test_iter_audio_blocks_matches_load_audio(tmp_path, rate, channels):
    duration_s = 7.3
    t = np.arange(int(duration_s * rate)) / rate
    x = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    data = np.stack([x * (1 - 0.3 * c) for c in range(channels)], 1)
    path = write_audio(tmp_path / "long.wav", data, rate, subtype="FLOAT")
    whole, _ = load_audio(path)
    block_s, overlap_s = 2.0, 0.5
    blocks = list(iter_audio_blocks(path, block_s, overlap_s, read_frames=10000))
    L, step = round(block_s * SR), round((block_s - overlap_s) * SR)
    assert all(len(b) == L for b in blocks[:-1]) and 0 < len(blocks[-1]) <= L
    assert (len(blocks) - 1) * step + len(blocks[-1]) == pytest.approx(len(whole), abs=2)
    tol = 0 if rate == SR else 1e-4
    for k, b in enumerate(blocks):
        ref = whole[k * step : k * step + len(b)]
        n = min(len(ref), len(b))
        assert np.abs(b[:n] - ref[:n]).max() <= tol


def test_iter_audio_blocks_short_file_and_bad_args(tmp_path):
    path = write_audio(tmp_path / "short.wav", _tone(SR, 0.3))
    blocks = list(iter_audio_blocks(path, 1.0, 0.2))
    assert len(blocks) == 1 and len(blocks[0]) == round(0.3 * SR)
    with pytest.raises(ValueError):
        iter_audio_blocks(path, 1.0, 1.0)
    with pytest.raises(AudioError, match="not found"):
        iter_audio_blocks(tmp_path / "missing.flac", 1.0, 0.1)


def test_iter_audio_blocks_corrupt_data_mid_stream(tmp_path):
    full = write_audio(tmp_path / "full.flac", music_like(4.0))
    path = tmp_path / "cut.flac"
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="corrupt") as err:
        list(iter_audio_blocks(path, 1.0, 0.1, read_frames=4096))
    assert "cut.flac" in str(err.value)


def test_iter_audio_blocks_exact_multiple_has_no_empty_tail(tmp_path):
    # 3.5 s with 2 s blocks and 0.5 s overlap: blocks at 0 and 1.5 s cover everything
    path = write_audio(tmp_path / "exact.wav", _tone(SR, 3.5), subtype="FLOAT")
    blocks = list(iter_audio_blocks(path, 2.0, 0.5))
    assert [len(b) for b in blocks] == [2 * SR, 2 * SR]


@needs_ffmpeg
def test_mp3_falls_back_to_ffmpeg(tmp_path, monkeypatch):
    path = write_audio(tmp_path / "a.mp3", _tone(48000, 1.0, 500.0, channels=2), 48000)
    native, _ = load_audio(path)
    monkeypatch.setattr(sf, "available_formats", lambda: {"WAV": "", "FLAC": ""})
    via_ffmpeg, sr = load_audio(path)
    assert sr == SR
    assert abs(len(via_ffmpeg) - len(native)) < 0.05 * SR
    assert abs(_peak_hz(via_ffmpeg, SR) - 500.0) <= 2.0
    assert np.sqrt(np.mean(via_ffmpeg**2)) == pytest.approx(np.sqrt(np.mean(native**2)), rel=0.05)
    assert audio_info(path).channels == 2 and audio_info(path).sample_rate_hz == 48000
    text = tmp_path / "text.mp3"
    text.write_text("not audio at all\n" * 10)
    with pytest.raises(AudioError, match="not an audio file ffmpeg can read"):
        load_audio(text)


def test_mp3_without_ffmpeg_names_the_fix(tmp_path, monkeypatch):
    path = write_audio(tmp_path / "a.mp3", _tone(SR, 0.5))
    monkeypatch.setattr(sf, "available_formats", lambda: {"WAV": ""})
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    with pytest.raises(AudioError, match="ffmpeg") as err:
        load_audio(path)
    assert "a.mp3" in str(err.value)


def _clicks(rate: int, duration_s: float, every_s: float, channels: int = 2) -> np.ndarray:
    x = np.zeros(int(round(duration_s * rate)), np.float32)
    x[:: int(round(every_s * rate))] = 0.9
    return np.repeat(x[:, None], channels, axis=1)


@needs_ffmpeg
@pytest.mark.parametrize(
    ("suffix", "args", "container", "codec"),
    [
        (".m4a", ["-c:a", "aac", "-b:a", "192k"], "MOV", "AAC"),
        (".webm", ["-c:a", "libopus", "-b:a", "128k"], "MATROSKA", "OPUS"),
        (".mka", ["-c:a", "flac"], "MATROSKA", "FLAC"),
        (".opus", ["-c:a", "libopus", "-b:a", "128k"], "OGG", "OPUS"),  # libsndfile stops partway in these
    ],
)
def test_formats_libsndfile_does_not_read_go_through_ffmpeg(tmp_path, suffix, args, container, codec):
    """.m4a (AAC), WebM (Opus), Matroska (FLAC, lossless) and Ogg Opus from ffmpeg: the header from ffprobe, the samples on time
    (no encoder delay left in), the same as the WAV they were made from."""
    wav = write_audio(
        tmp_path / "src.wav", _clicks(48000, 3.0, 0.25) * 0.5 + _tone(48000, 3.0, 440.0, 2) * 0.5, 48000
    )
    path = run_ffmpeg("-i", wav, *args, tmp_path / f"a{suffix}")
    info = audio_info(path)
    assert (info.sample_rate_hz, info.channels, info.format, info.subtype) == (48000, 2, container, codec)
    assert info.duration_s == pytest.approx(3.0, abs=0.03)
    ref, _ = load_audio(wav)
    got, sr = load_audio(path)
    assert sr == SR and got.dtype == np.float32
    n = min(len(ref), len(got))
    assert abs(len(got) - len(ref)) < 0.03 * SR
    lags = list(range(-400, 401))
    lag = lags[int(np.argmax([np.dot(ref[500 : n - 500], got[500 + k : n - 500 + k]) for k in lags]))]
    assert abs(lag) <= 2  # < 0.05 ms: the container's encoder delay was removed
    if codec == "FLAC":
        np.testing.assert_allclose(got[: len(ref)], ref, atol=1e-4)
    else:
        assert np.corrcoef(ref[500 : n - 500], got[500 : n - 500])[0, 1] > 0.95
    # the same file without its suffix (a web page's upload, a download named "song"): told by its content
    for name in ("song", "misnamed.wav"):  # content wins over a missing or wrong suffix
        path = path.rename(tmp_path / name)
        assert audio_info(path).format == container
        np.testing.assert_array_equal(load_audio(path)[0], got)


@needs_ffmpeg
def test_ffmpeg_files_stream_in_blocks(tmp_path):
    """Blocks through the pipe add up to the whole decode; read_excerpt and iter_audio_blocks agree with it;
    stopping early leaves no ffmpeg process behind."""
    wav = write_audio(tmp_path / "src.wav", _tone(44100, 4.0, 300.0, 2))
    path = run_ffmpeg("-i", wav, "-c:a", "flac", tmp_path / "a.mka")
    whole, _ = audio._read_all(path)
    blocks = list(audio.iter_file_blocks(path, read_frames=10000, mono=False))
    assert len(blocks) == 18 and all(len(b) == 10000 for b in blocks[:-1])
    np.testing.assert_array_equal(np.concatenate(blocks), whole)
    mono_whole = audio.to_mono(whole)
    np.testing.assert_array_equal(audio.read_excerpt(path, 0, 30000), mono_whole[:30000])
    for start in (25000, 150001):  # ffmpeg seeks: within 2 ms (Matroska keeps its times to the ms)
        got = audio.read_excerpt(path, start, 20000)
        assert len(got) == 20000
        lag = min(
            range(-44, 45),
            key=lambda k: np.abs(got[:10000] - mono_whole[start + k : start + k + 10000]).max(),
        )
        np.testing.assert_array_equal(got[:10000], mono_whole[start + lag : start + lag + 10000])
    assert len(audio.read_excerpt(path, 10 * len(whole), 100)) == 0
    mono, _ = load_audio(path)
    streamed = list(iter_audio_blocks(path, 1.0, 0.25, read_frames=8192))
    np.testing.assert_allclose(streamed[1], mono[33075 : 33075 + 44100], atol=1e-6)

    started = []
    real_popen = audio.subprocess.Popen

    def popen(*a, **k):
        started.append(real_popen(*a, **k))
        return started[-1]

    import unittest.mock

    with unittest.mock.patch.object(audio.subprocess, "Popen", popen):
        gen = audio.iter_file_blocks(path, read_frames=1000)
        next(gen)
        gen.close()
    decoders = [p for p in started if "-nostdin" in p.args]  # not ffprobe
    assert len(decoders) == 1 and decoders[0].poll() is not None


@needs_ffmpeg
def test_ffmpeg_files_bad_input_gets_a_clear_error(tmp_path):
    text = tmp_path / "notes.m4a"
    text.write_text("not audio at all\n" * 10)
    with pytest.raises(AudioError, match=r"notes\.m4a: not an audio file ffmpeg can read \(Invalid data"):
        load_audio(text)
    video = run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc=duration=1:size=32x32:rate=5", tmp_path / "silent-film.mp4"
    )
    with pytest.raises(AudioError, match=r"silent-film\.mp4: has no audio stream"):
        audio_info(video)
    wav = write_audio(tmp_path / "src.wav", _tone(44100, 2.0))
    good = run_ffmpeg("-i", wav, "-c:a", "aac", tmp_path / "good.m4a")
    cut = tmp_path / "cut.m4a"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # the index (moov atom) is at the end
    with pytest.raises(AudioError, match=r"cut\.m4a: not an audio file ffmpeg can read"):
        load_audio(cut)


def test_ffmpeg_formats_without_ffmpeg_name_the_fix(tmp_path, monkeypatch):
    path = tmp_path / "song.m4a"
    path.write_bytes(b"\0" * 100)
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    with pytest.raises(AudioError, match=r"song\.m4a: decoding \.m4a files needs ffmpeg.*install ffmpeg"):
        load_audio(path)
    assert audio.read_tags(path) == {}


@needs_ffmpeg
def test_ogg_opus_that_libsndfile_cannot_finish_says_how_to_read_it_without_ffmpeg(tmp_path, monkeypatch):
    import drumscribe

    example = Path(drumscribe.__file__).parent / "pretrained" / "example" / "example.ogg"  # 20 s of drums
    path = run_ffmpeg("-i", example, "-c:a", "libopus", tmp_path / "clip.opus")
    assert len(load_audio(path)[0]) == pytest.approx(20.0 * SR, abs=0.01 * SR)  # whole, through ffmpeg
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    with pytest.raises(AudioError, match=r"clip\.opus: corrupt audio data .*install ffmpeg"):
        load_audio(path)


@needs_ffmpeg
def test_tags_from_libsndfile_and_ffprobe(tmp_path):
    flac = tmp_path / "a.flac"
    with sf.SoundFile(str(flac), "w", SR, 1, format="FLAC") as f:
        f.title, f.artist = "Song", "Band"
        f.write(_tone(SR, 0.5))
    assert {k: v for k, v in audio.read_tags(flac).items() if k in ("title", "artist")} == {
        "title": "Song",
        "artist": "Band",
    }
    m4a = run_ffmpeg(
        "-i", flac, "-c:a", "aac", "-metadata", "album=LP", "-metadata", "date=1999", tmp_path / "a.m4a"
    )
    tags = audio.read_tags(m4a)
    assert (tags["title"], tags["artist"], tags["album"], tags["date"]) == ("Song", "Band", "LP", "1999")
    opus = run_ffmpeg("-i", flac, "-c:a", "libopus", "-metadata", "album=LP", tmp_path / "a.opus")
    assert audio._use_ffmpeg(opus)  # decoded by ffmpeg, its Vorbis comments still read
    tags = audio.read_tags(opus)
    assert (tags["title"], tags["artist"], tags["album"]) == ("Song", "Band", "LP")
