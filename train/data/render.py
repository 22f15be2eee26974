"""Labelled instrument phrases rendered from General MIDI soundfonts with the `fluidsynth` CLI.

The shared data has few clean instrument recordings, while users ask for "violin" or "trumpet" all the time. A GM
soundfont gives dozens of sampled instruments with exact labels; short random phrases in each instrument's range
turn them into musical training sources. All phrases of one font go into a single MIDI file (with silent gaps),
so fluidsynth loads the (large) font once per font instead of once per phrase.
"""

import shutil
import subprocess
from collections.abc import Collection
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

# GM program (0-based) -> (label, lowest MIDI note, highest MIDI note); the range keeps phrases idiomatic.
GM_PROGRAMS = {
    0: ("piano", 36, 96), 4: ("electric piano", 40, 88), 6: ("harpsichord", 41, 89), 9: ("glockenspiel", 72, 105),
    11: ("vibraphone", 53, 89), 12: ("marimba", 48, 84), 13: ("xylophone", 65, 96), 14: ("tubular bells", 60, 77),
    16: ("organ", 36, 84), 19: ("church organ", 36, 84), 21: ("accordion", 53, 89), 22: ("harmonica", 60, 84),
    24: ("acoustic guitar", 40, 76), 26: ("electric guitar", 40, 79), 29: ("distorted guitar", 40, 76),
    32: ("double bass", 28, 55), 33: ("bass guitar", 28, 55), 38: ("synth bass", 28, 55), 40: ("violin", 55, 96),
    41: ("viola", 48, 84), 42: ("cello", 36, 72), 45: ("pizzicato strings", 40, 84), 46: ("harp", 36, 96),
    47: ("timpani", 40, 55), 48: ("string section", 40, 84), 52: ("choir", 48, 79), 56: ("trumpet", 55, 82),
    57: ("trombone", 40, 72), 58: ("tuba", 28, 58), 60: ("french horn", 41, 77), 61: ("brass section", 45, 77),
    65: ("saxophone", 49, 81), 68: ("oboe", 58, 91), 70: ("bassoon", 34, 72), 71: ("clarinet", 50, 91),
    72: ("piccolo", 74, 102), 73: ("flute", 60, 96), 75: ("pan flute", 60, 96), 80: ("synth lead", 48, 84),
    88: ("synth pad", 48, 79), 104: ("sitar", 48, 77), 105: ("banjo", 48, 84), 108: ("kalimba", 48, 79),
    109: ("bagpipes", 58, 77), 114: ("steel drums", 52, 76),
}
DRUM_KIT = "drum kit"
LABELS = (*(label for label, _, _ in GM_PROGRAMS.values()), DRUM_KIT)

_SCALES = ((0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10), (0, 2, 4, 7, 9))  # major, minor, pentatonic
_GAP_SECONDS = 2.0  # silence between phrases: room for release and reverb tails
_TICK_SECONDS = 0.001  # MIDI ticks are milliseconds (500 ticks per beat at 120 bpm)


def gm_group(label: str) -> str:
    """An instrument's recording group, whatever the font: one instrument never lands in both train and val."""
    return f"gm:{label}"


def _melody(rng: np.random.Generator, low: int, high: int) -> list[tuple[float, float, int, int]]:
    """(start s, duration s, note, velocity) of a random-walk phrase of 3-8 s in a random scale and tempo."""
    beat = 60.0 / rng.uniform(70, 160)
    length = rng.uniform(3.0, 8.0)
    root = int(rng.integers(low, max(low + 1, high - 12)))
    scale = _SCALES[rng.integers(len(_SCALES))]
    pitches = [n for n in range(low, high + 1) if (n - root) % 12 in scale]
    idx, t, notes = len(pitches) // 2, 0.0, []
    while t < length:
        dur = beat * float(rng.choice([0.5, 0.5, 1.0, 1.0, 1.5, 2.0]))
        idx = int(np.clip(idx + rng.integers(-3, 4), 0, len(pitches) - 1))
        notes.append((t, dur * 0.95, pitches[idx], int(rng.integers(60, 115))))
        if rng.random() < 0.15 and idx + 2 < len(pitches):  # occasional dyad
            notes.append((t, dur * 0.95, pitches[idx + 2], int(rng.integers(50, 100))))
        t += dur
    return notes


def _drum_pattern(rng: np.random.Generator) -> list[tuple[float, float, int, int]]:
    """(start s, duration s, GM drum note, velocity) of a 16-step pattern with random variations, 3-8 s long."""
    step = 60.0 / rng.uniform(80, 170) / 4
    steps = int(rng.uniform(3.0, 8.0) / step)
    hat = 42 if rng.random() < 0.7 else 51  # closed hi-hat or ride
    notes = []
    for i in range(steps):
        pos = i % 16
        if pos in (0, 8) or (pos in (6, 10, 14) and rng.random() < 0.3):
            notes.append((i * step, step, 36, int(rng.integers(90, 120))))
        if pos in (4, 12) or rng.random() < 0.05:
            notes.append((i * step, step, 38, int(rng.integers(80, 120))))
        if pos % 2 == 0 or rng.random() < 0.2:
            notes.append((i * step, step, hat, int(rng.integers(50, 100))))
        if pos == 0 and i % 64 == 0 and rng.random() < 0.5:
            notes.append((i * step, step, 49, 100))  # crash on the first downbeat
    return notes


def _write_midi(path: Path, phrases: list[tuple[int | None, list]]) -> list[tuple[float, float]]:
    """Write (program or None for drums, notes) phrases one after another; return each phrase's (start, end) s."""
    events, spans, t0 = [], [], 0.0
    for program, notes in phrases:
        channel = 9 if program is None else 0
        if program is not None:
            events.append((t0, 0, mido.Message("program_change", channel=0, program=program)))
        for start, dur, note, vel in notes:
            events.append((t0 + start, 2, mido.Message("note_on", channel=channel, note=note, velocity=vel)))
            events.append((t0 + start + dur, 1, mido.Message("note_off", channel=channel, note=note, velocity=0)))
        end = t0 + max(s + d for s, d, _, _ in notes)
        spans.append((t0, end))
        t0 = end + _GAP_SECONDS
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)])
    now = 0
    for t, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        tick = round(t / _TICK_SECONDS)
        track.append(msg.copy(time=tick - now))
        now = tick
    midi = mido.MidiFile(ticks_per_beat=500)
    midi.tracks.append(track)
    midi.save(path)
    return spans


def render_phrases(
    font: Path,
    out_dir: Path,
    *,
    font_name: str,
    license: str,
    sample_rate: int = 16000,
    phrases_per_program: int = 6,
    seed: int = 0,
    labels: Collection[str] | None = None,
) -> list[dict]:
    """Render random phrases of every `GM_PROGRAMS` instrument plus drum patterns (or only those of `labels`);
    return manifest rows.

    recording_id is `gm_group(label)`.
    """
    if shutil.which("fluidsynth") is None:
        raise FileNotFoundError("fluidsynth CLI not found (apt-get install -y fluidsynth)")
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(p, label) for p, (label, _, _) in GM_PROGRAMS.items() for _ in range(phrases_per_program)]
    jobs += [(None, DRUM_KIT)] * phrases_per_program
    jobs = [(p, label) for p, label in jobs if labels is None or label in labels]
    if not jobs:
        return []
    phrases = [(p, _drum_pattern(rng) if p is None else _melody(rng, *GM_PROGRAMS[p][1:])) for p, _ in jobs]
    spans = _write_midi(out_dir / "phrases.mid", phrases)
    wav_path = out_dir / "phrases.wav"
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(sample_rate), "-F", str(wav_path), str(font),
                    str(out_dir / "phrases.mid")], check=True, capture_output=True)
    audio, sr = sf.read(wav_path, dtype="float32", always_2d=True)
    wav_path.unlink()
    rows = []
    for i, ((_, label), (start, end)) in enumerate(zip(jobs, spans, strict=True)):
        a, b = int(start * sr), min(len(audio), int((end + _GAP_SECONDS * 0.75) * sr))
        name = f"{i:03d}_{label.replace(' ', '_')}.wav"
        sf.write(out_dir / name, audio[a:b].mean(axis=1), sr, subtype="PCM_16")
        rows.append({"path": str(out_dir / name), "label": label, "source": f"debian:{font_name} (fluidsynth render)",
                     "license": license, "recording_id": gm_group(label)})
    return rows
