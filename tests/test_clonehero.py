"""Clone Hero songs (drumscribe.transcribe.clonehero): folder and zip, the audio copied or encoded, song.ini,
playable chords and practice sections in the chart."""

from __future__ import annotations

import configparser
import dataclasses
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from conftest import music_like, needs_ffmpeg, run_ffmpeg, write_audio
from drumscribe.errors import AudioError, ConfigError
from drumscribe.transcribe.chart import SECTION_MEASURES, build_chart, drum_tier
from test_exports import chart_onsets, hits, make_transcription, read_chart

SR = 44100


@pytest.fixture(scope="module")
def tr():
    return make_transcription()


def ini(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(path.read_text(encoding="utf-8"))
    return dict(parser["song"])


def test_folder_with_a_playable_audio_file_copies_it(tr, tmp_path) -> None:
    wav = write_audio(tmp_path / "groove.wav", music_like(tr.duration_s, SR))
    song = dataclasses.replace(tr, audio_path=wav).to_clonehero(tmp_path / "out" / "groove-clonehero")
    assert sorted(p.name for p in song.iterdir()) == ["notes.chart", "song.ini", "song.wav"]
    assert (song / "song.wav").read_bytes() == wav.read_bytes()
    meta = ini(song / "song.ini")
    assert meta["name"] == "groove" and meta["pro_drums"] == "True" and meta["charter"] == "drumscribe"
    assert meta["song_length"] == str(round(1000 * tr.duration_s))
    chart = read_chart(song / "notes.chart")
    assert chart["song"]["MusicStream"] == '"song.wav"'
    # the same notes as the plain .chart export
    plain = read_chart(tr.to_chart(tmp_path / "groove.chart"))
    assert chart["notes"] == plain["notes"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["groove-clonehero"]  # no staging left


def test_other_audio_is_encoded_to_ogg_with_tags_at_most_stereo_and_48k(tr, tmp_path) -> None:
    """A 96 kHz, 6-channel FLAC with tags: song.ogg at 44.1 kHz mono, the same length; the ini takes the
    song's title, artist, album, genre and year from the tags."""
    mono = music_like(tr.duration_s, 96000)
    flac = tmp_path / "take.flac"
    with sf.SoundFile(str(flac), "w", 96000, 6, format="FLAC") as f:
        f.title, f.artist, f.album, f.genre, f.date = "Song Title", "The Band", "LP", "Punk", "1999-02-03"
        f.write(np.repeat(mono[:, None], 6, axis=1) * 0.5)
    song = tr.to_clonehero(tmp_path / "song-folder", audio=flac)
    info = sf.info(str(song / "song.ogg"))
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("OGG", "VORBIS", 44100, 1)
    assert info.duration == pytest.approx(tr.duration_s, abs=0.01)
    enc, _ = sf.read(str(song / "song.ogg"))
    want = soxr.resample(mono * 0.5, 96000, 44100)
    assert np.corrcoef(enc[: 2 * SR], want[: 2 * SR])[0, 1] > 0.9
    meta = ini(song / "song.ini")
    assert (meta["name"], meta["artist"], meta["album"], meta["genre"], meta["year"]) == (
        "Song Title",
        "The Band",
        "LP",
        "Punk",
        "1999",
    )
    assert read_chart(song / "notes.chart")["song"]["MusicStream"] == '"song.ogg"'


def test_zip_holds_one_song_folder(tr, tmp_path) -> None:
    wav = write_audio(tmp_path / "groove.wav", music_like(tr.duration_s, SR))
    out = tr.to_clonehero(tmp_path / "export-1234.zip", audio=wav)
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == ["groove/notes.chart", "groove/song.ini", "groove/song.wav"]
        assert zf.read("groove/song.wav") == wav.read_bytes()
        assert b"pro_drums = True" in zf.read("groove/song.ini")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export-1234.zip", "groove.wav"]


def test_replacing_a_folder_and_failing_without_loss(tr, tmp_path) -> None:
    wav = write_audio(tmp_path / "a.wav", music_like(2.0, SR))
    dest = tmp_path / "a-clonehero"
    tr.to_clonehero(dest, audio=wav)
    (dest / "stale.txt").write_text("old")
    tr.to_clonehero(dest, audio=wav)
    assert not (dest / "stale.txt").exists()  # replaced as a whole
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    bad = tmp_path / "bad.flac"
    bad.write_text("not audio")
    with pytest.raises(AudioError, match="bad.flac"):
        tr.to_clonehero(dest, audio=bad)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before  # the earlier song is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-clonehero", "a.wav", "bad.flac"]
    with pytest.raises(ConfigError, match="needs the song's audio"):
        dataclasses.replace(tr, audio_path=None).to_clonehero(tmp_path / "x-clonehero")


def test_chart_keeps_two_hand_strokes_per_tick_and_has_practice_sections(tmp_path) -> None:
    """Snare, hi-hat, tom and crash together: the chart keeps the crash and the snare (two hands) and the
    kick; 20 bars of kicks at 120 BPM get sections at bars 1, 9 and 17."""
    beats = 0.5 * np.arange(81)
    both = [4.0, 8.0]
    kicks = [0.0, *both, *np.arange(10.0, 40.0, 2.0)]
    t = hits([kicks, both, both, [1.0, *both], both], 40.5, beats, 120.0)
    chart = read_chart(t.to_chart(tmp_path / "c.chart"))
    got = chart_onsets(chart)
    np.testing.assert_allclose(got[0], kicks, atol=1e-6)
    np.testing.assert_allclose(got[1], both, atol=1e-6)  # snare
    np.testing.assert_allclose(got[4], both, atol=1e-6)  # crash
    assert len(got[2]) == 0  # toms dropped
    np.testing.assert_allclose(got[3], [1.0], atol=1e-6)  # the hi-hat alone stays
    names = [v for _, v in chart["events"]]
    assert names == ['E "section Bar 1"', 'E "section Bar 9"', 'E "section Bar 17"']
    seconds = [chart["seconds"](k) for k, _ in chart["events"]]
    bar_s = 4 * 0.5
    np.testing.assert_allclose(
        seconds, [0.0, SECTION_MEASURES * bar_s, 2 * SECTION_MEASURES * bar_s], atol=1e-6
    )


def test_sections_after_a_short_first_measure_start_on_the_bars_they_name(tmp_path) -> None:
    """Kicks on every bar's first beat, the bars starting half a bar in: the chart opens with a two-beat
    measure, and "Bar 9" and "Bar 17" sit on the chart's ninth and seventeenth measures."""
    kicks = list(np.arange(1.0, 40.0, 2.0))
    chart = read_chart(hits([kicks], 40.5, 0.5 * np.arange(81), 120.0).to_chart(tmp_path / "p.chart"))
    res = chart["res"]
    assert chart["ts"] == [(0, 2), (2 * res, 4)]
    measure_tick = {m: 2 * res + (m - 2) * 4 * res for m in (9, 17)}
    assert chart["events"] == [
        (0, 'E "section Bar 1"'),
        (measure_tick[9], 'E "section Bar 9"'),
        (measure_tick[17], 'E "section Bar 17"'),
    ]


def test_lower_difficulties_are_reductions_a_player_can_play(tmp_path) -> None:
    """Hard: no Expert+ kick, nothing finer than sixteenths or eighth triplets; Medium: eighths; Easy: beats
    and one hand at a time; each level's notes are notes of the level above."""
    groove = make_transcription()  # 16th tom fill, a beat of hi-hat triplets, crashes with kick and hi-hat
    beat = 0.4  # plus a run of 32nd-note double bass at 150 BPM after it
    kicks = np.concatenate([groove.onsets[0], groove.duration_s + 0.2 + 0.05 * np.arange(8)])
    beats = np.concatenate([groove.beats_s, groove.beats_s[-1] + beat * np.arange(1, 12)])
    t = hits([kicks, *groove.onsets[1:]], groove.duration_s + 1.0, beats, groove.tempo_bpm)
    levels = read_chart(t.to_chart(tmp_path / "d.chart"))["levels"]
    assert list(levels) == ["Expert", "Hard", "Medium", "Easy"]
    expert, hard, medium, easy = levels.values()
    assert any(32 in codes for codes in expert.values())
    assert all(32 not in codes for level in (hard, medium, easy) for codes in level.values())
    assert all(tick % 48 == 0 or tick % 64 == 0 for tick in hard)
    assert any(tick % 64 == 0 and tick % 48 for tick in hard)  # the triplets stay on Hard
    assert all(tick % 96 == 0 for tick in medium) and all(tick % 192 == 0 for tick in easy)
    assert all(len(codes & {1, 2, 3, 4}) <= 1 for codes in easy.values())
    for upper, lower in ((expert, hard), (hard, medium), (medium, easy)):
        assert all(codes <= (upper[tick] | {0}) for tick, codes in lower.items())
    assert len(expert) > len(hard) > len(medium) > len(easy) > 10


@needs_ffmpeg
@pytest.mark.parametrize(
    ("suffix", "codec", "album"), [(".flac", "png", "album.png"), (".m4a", "mjpeg", "album.jpg")]
)
def test_embedded_cover_becomes_the_album_art(tr, tmp_path, suffix, codec, album) -> None:
    """A FLAC with a PNG cover and an .m4a with a JPEG one: the song folder (and the zip) get the picture as
    it is; a file without a cover gets none."""
    wav = write_audio(tmp_path / "take.wav", music_like(tr.duration_s, SR))
    cover = run_ffmpeg("-f", "lavfi", "-i", "color=c=red:s=48x32", "-frames:v", "1", tmp_path / "cover.png")
    audio_codec = ["-c:a", "flac"] if suffix == ".flac" else ["-c:a", "aac"]
    song_file = run_ffmpeg(
        *("-i", wav, "-i", cover, "-map", "0:a", "-map", "1", *audio_codec),
        *("-c:v", codec, "-disposition:v", "attached_pic", tmp_path / f"take{suffix}"),
    )
    song = tr.to_clonehero(tmp_path / "song", audio=song_file)
    assert album in {p.name for p in song.iterdir()}
    from PIL import Image

    with Image.open(song / album) as img:
        assert img.size == (48, 32) and img.format == ("PNG" if codec == "png" else "JPEG")
        assert img.convert("RGB").getpixel((10, 10))[0] > 200  # red
    with zipfile.ZipFile(tr.to_clonehero(tmp_path / "song.zip", audio=song_file)) as zf:
        assert any(n.endswith("/" + album) for n in zf.namelist())
    plain = tr.to_clonehero(tmp_path / "plain", audio=wav)
    assert not any(p.name.startswith("album") for p in plain.iterdir())


def test_preview_starts_on_the_busiest_bar_and_the_tier_follows_the_note_density(tmp_path) -> None:
    """Kicks on every beat of 100 s at 120 BPM and 16th-note hi-hats from 40 s to 70 s: the preview (song.ini
    and the chart's PreviewStart) starts on the bar line at 40 s, where the busiest 30 s begin, and the tier
    is the Expert notes per second (first to last note) over two; a 20-s song's preview starts at 0."""
    beats = 0.5 * np.arange(201)
    kicks = beats[:-1]
    hats = 40.0 + 0.125 * np.arange(240)
    t = hits([kicks, [], [], hats], 100.0, beats, 120.0)
    wav = write_audio(tmp_path / "busy.wav", music_like(t.duration_s, SR))
    song = dataclasses.replace(t, audio_path=wav, source=str(wav)).to_clonehero(tmp_path / "busy-clonehero")
    meta = ini(song / "song.ini")
    chart = read_chart(song / "notes.chart")
    assert int(meta["preview_start_time"]) == 40000
    assert float(chart["song"]["PreviewStart"]) == pytest.approx(40.0, abs=1e-3)
    notes = sum(len(codes - {66, 68}) for codes in chart["notes"].values())
    assert notes == len(kicks) + len(hats)
    per_s = notes / (kicks[-1] - kicks[0])
    assert int(meta["diff_drums"]) == int(meta["diff_drums_real"]) == int(per_s // 2) == 2

    short = hits([0.5 * np.arange(40)], 20.0, 0.5 * np.arange(41), 120.0)
    assert build_chart(short).preview_start_s == 0.0
    assert [drum_tier(x) for x in (0.0, 1.9, 2.0, 6.1, 11.9, 12.0, 40.0)] == [0, 0, 1, 3, 5, 6, 6]
