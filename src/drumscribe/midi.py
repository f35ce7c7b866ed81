"""Writing drum hits as a Standard MIDI file (shared by synthesised performances and transcriptions).

Kept free of :mod:`drumscribe.synth` and :mod:`drumscribe.transcribe` so both can import it; ``mido`` is
imported only when a file is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .fileio import atomic_path

#: General MIDI percussion channel (zero-based; "channel 10" in General MIDI).
MIDI_DRUM_CHANNEL = 9


def write_drum_midi(
    path: str | Path,
    hits: Iterable[tuple[float, int, int]],
    *,
    bpm: float,
    ticks_per_beat: int,
    note_s: float,
    track_name: str,
    beats_per_bar: int = 4,
    off_velocity: int = 0,
    beat_times: Sequence[float] | None = None,
    pickup: int = 0,
) -> Path:
    """Write a type-0 MIDI file with one note of ``note_s`` seconds per ``(time [s], key, velocity)`` hit.

    Every note is on the drum channel; the tempo is constant ``bpm`` with a ``beats_per_bar``/4 time
    signature. Note-offs carry ``off_velocity`` and come before note-ons on the same tick. Times must not
    be negative (clamp them first).

    ``beat_times`` (a tempo map): when beat ``j`` sounds [s], from ``beat_times[0] == 0``; the file then has a
    tempo change on every beat so its beats fall there (past the last, the last period goes on), and a first
    bar of ``pickup`` beats when ``pickup`` > 0.
    """
    import mido

    path = Path(path)
    if beat_times is None:
        ticks_per_s = ticks_per_beat * bpm / 60.0

        def ticks(t: float) -> int:
            return int(round(t * ticks_per_s))

        tempos = [(0, bpm)]
    else:
        beats = np.asarray(beat_times, dtype=np.float64)
        index = np.arange(len(beats), dtype=np.float64)

        def ticks(t: float) -> int:
            j = (
                np.interp(t, beats, index)
                if t <= beats[-1]
                else index[-1] + (t - beats[-1]) / (beats[-1] - beats[-2])
            )
            return int(round(float(j) * ticks_per_beat))

        tempos = [(j * ticks_per_beat, 60.0 / d) for j, d in enumerate(np.diff(beats))]
    events: list[tuple[int, int, int, int, int]] = []  # (tick, order: tempo, off, on; tempo, note, velocity)
    for tick, tempo_bpm in tempos[1:]:
        events.append((tick, 0, int(round(60_000_000 / tempo_bpm)), 0, 0))
    for t, note, v in hits:
        on = ticks(float(t))
        off = max(on + 1, ticks(float(t) + note_s))
        events.append((on, 2, 0, int(note), int(v)))
        events.append((off, 1, 0, int(note), off_velocity))
    events.sort()
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=track_name, time=0))
    last_tempo = int(round(60_000_000 / tempos[0][1]))
    track.append(mido.MetaMessage("set_tempo", tempo=last_tempo, time=0))
    first_bar = pickup if pickup > 0 else beats_per_bar
    track.append(mido.MetaMessage("time_signature", numerator=first_bar, denominator=4, time=0))
    bar_at = pickup * ticks_per_beat if pickup > 0 else None  # where the 4/4 bars start after a pickup
    now = 0
    for tick, order, tempo_us, note, vel in events:
        if bar_at is not None and tick >= bar_at:
            sig = mido.MetaMessage(
                "time_signature", numerator=beats_per_bar, denominator=4, time=bar_at - now
            )
            track.append(sig)
            now, bar_at = bar_at, None
        if order == 0:
            if tempo_us != last_tempo:
                track.append(mido.MetaMessage("set_tempo", tempo=tempo_us, time=tick - now))
                now, last_tempo = tick, tempo_us
            continue
        kind = "note_on" if order == 2 else "note_off"
        track.append(mido.Message(kind, channel=MIDI_DRUM_CHANNEL, note=note, velocity=vel, time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    # names are UTF-8 (a DAW shows "drums (ドラム.wav)"; mido's Latin-1 default cannot encode them)
    mid = mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat, charset="utf-8")
    mid.tracks.append(track)
    with atomic_path(path) as tmp:
        mid.save(str(tmp))
    return path
