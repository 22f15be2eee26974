"""Real recordings from public repositories (`../shared/data/SOURCES.md`), read from a folder of their clones.

A user clones each repository at its listed commit into one folder (`git clone URL NAME && git -C NAME checkout
COMMIT`); `write_source_manifests` finds the clones it knows there and writes one manifest per source (path, label,
source, license, recording_id) for `build_corpus(extra_manifests=...)`. Missing clones are skipped, so any subset
works. Labels are what a user would type for the sound; recording ids group takes of one speaker, device or
recording, so the train/val/test split never shares a voice or a recording between sides.

Each source names its license with the file that grants it; rows whose own license is not commercial-friendly (petz
lists one per file) are dropped here, so nothing NonCommercial reaches a corpus.
"""

import csv
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

Row = dict[str, str]


@dataclass(frozen=True)
class Source:
    """One repository: where its clone lives in the folder, what it holds, under which license and commit."""

    name: str  # folder name of the clone (the repository's name)
    repo: str  # owner/name on GitHub
    commit: str  # the commit SOURCES.md lists
    license: str  # license and the file that grants it
    rows: Callable[[Path], Iterator[Row]]  # (clone root) -> rows without source/license


def _files(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.glob(pattern) if p.is_file())


def _kv(path: Path) -> dict[str, str]:
    """A Kaldi-style two-column file (spk2gender, spk2age)."""
    if not path.exists():
        return {}
    return dict(line.split(None, 1) for line in path.read_text().split("\n") if line.strip())


def _speechocean(root: Path) -> Iterator[Row]:
    """Read English sentences; the label says who speaks (man, woman, child), the speaker is the recording group."""
    gender, age = {}, {}
    for part in ("train", "test"):
        gender |= {k: v.strip() for k, v in _kv(root / part / "spk2gender").items()}
        age |= {k: v.strip() for k, v in _kv(root / part / "spk2age").items()}
    for path in _files(root, "WAVE/SPEAKER*/*.WAV"):
        spk = path.parent.name.removeprefix("SPEAKER")
        years = int(age.get(spk, "30") or 30)
        who = "child" if years < 14 else {"m": "man", "f": "woman"}.get(gender.get(spk, ""), "person")
        yield {"path": str(path), "label": f"{who} speaking", "recording_id": f"speechocean:{spk}"}


def _speech_commands(root: Path) -> Iterator[Row]:
    """Speech Commands test words; the file-name prefix is the speaker."""
    for path in _files(root, "MLTK_keyworkSpotting/dataset/*/*.wav"):
        word = path.parent.name
        if word == "_silence_":
            continue
        if word == "_unknown_":
            word = path.name.split("_", 1)[0]
        speaker = path.name.split("_nohash")[0].split("_")[-1]
        yield {"path": str(path), "label": f"person saying {word}", "recording_id": f"speechcommands:{speaker}"}


def _speech_to_intent(root: Path) -> Iterator[Row]:
    """Spoken coffee orders; speakers are not named, so each file is its own group (never used for evaluation)."""
    for path in _files(root, "data/speech/clean/*.wav"):
        yield {"path": str(path), "label": "person speaking", "recording_id": f"picovoice-intent:{path.stem}"}


def _wake_words(root: Path) -> Iterator[Row]:
    for path in _files(root, "audio/*/*.flac"):
        phrase = path.parent.name
        yield {"path": str(path), "label": f"person saying {phrase}",
               "recording_id": f"picovoice-wake:{phrase}:{path.stem}"}


def _donateacry(root: Path) -> Iterator[Row]:
    """Crying babies; the leading UUID is the app install (the family), the recording group."""
    for path in _files(root, "donateacry_corpus_cleaned_and_updated_data/*/*.wav"):
        yield {"path": str(path), "label": "baby crying", "recording_id": f"donateacry:{path.name[:36]}"}


_BLANKET = {"birds": "birds chirping", "boat": "boat engine on water", "city": "city traffic",
            "coffee-shop": "people chatting in a cafe", "fireplace": "fire crackling", "rain": "rain",
            "storm": "thunderstorm", "summer-night": "crickets chirping at night", "train": "train passing",
            "waves": "ocean waves", "wind": "wind blowing", "stream": "stream of water"}


def _blanket(root: Path) -> Iterator[Row]:
    """Ambience loops (the two synthetic noises are left out: no one asks for pink noise)."""
    for path in _files(root, "data/resources/sounds/*.ogg"):
        if path.stem in _BLANKET:
            yield {"path": str(path), "label": _BLANKET[path.stem], "recording_id": f"blanket:{path.stem}"}


def _maad(root: Path) -> Iterator[Row]:
    """24 h at one site, every 15 min: labelled by time of day; each hour is one recording group."""
    for path in _files(root, "data/indices/*.wav"):
        m = re.search(r"_(\d{8})_(\d\d)(\d\d)\d\d$", path.stem)
        if m is None:
            continue
        hour = int(m[2])
        label = ("birds singing at dawn" if 5 <= hour < 9 else "birds and insects outdoors" if 9 <= hour < 19
                 else "insects at night")
        yield {"path": str(path), "label": label, "recording_id": f"maad:{m[1]}:{hour:02d}"}


_PETZ_ANIMALS = {"kitty": "cat", "puppy": "dog", "ducky": "duck", "calf": "cow", "lamb": "sheep", "bunny": "rabbit",
                 "piggy": "pig", "chimp": "chimpanzee", "pony": "horse", "hen": "chicken"}
_PETZ_SOUNDS = {"bark": "barking", "meow": "meowing", "moo": "mooing", "quack": "quacking", "oink": "oinking",
                "neigh": "neighing", "baa": "bleating", "howl": "howling", "roar": "roaring", "hiss": "hissing",
                "growl": "growling", "chirp": "chirping", "cluck": "clucking", "hoo": "hooting", "hum": "humming",
                "squeak": "squeaking", "croak": "croaking", "grunting": "grunting", "clicking": "clicking"}
_OPEN_LICENSE = re.compile(r"creative commons 0|\bcc0\b|attribution (license|4\.0|3\.0)|\bcc by\b(?!-nc)",
                           re.IGNORECASE)


def _petz_licenses(root: Path) -> dict[str, str]:
    """file name -> license line, for the rows of `petz/sounds/LICENSE.MD` that are CC0 or CC BY (no NC)."""
    path = root / "petz/sounds/LICENSE.MD"
    if not path.exists():
        return {}
    out, name = {}, None
    for line in path.read_text(errors="replace").splitlines():
        if m := re.match(r"\s*file ?name:\s*(\S+)", line, re.IGNORECASE):
            name = m[1]
        elif (m := re.match(r"\s*license:\s*(.+)", line, re.IGNORECASE)) and name:
            text = m[1].strip()
            if _OPEN_LICENSE.search(text) and "noncommercial" not in text.lower() and "-nc" not in text.lower():
                out[name] = ("CC0" if "0 license" in text.lower() or "cc0" in text.lower() else "CC BY") + \
                    " (petz/sounds/LICENSE.MD)"
            name = None
    return out


def petz_label(stem: str) -> str | None:
    """`petz_kitty_meow_2` -> "cat meowing"; a pain or generic sound ("moaning", "sound") -> the animal alone."""
    words = [w for w in stem.lower().split("_") if w not in ("petz", "pet") and not w.isdigit()]
    if not words:
        return None
    animal = _PETZ_ANIMALS.get(words[0], words[0])
    sound = next((_PETZ_SOUNDS[w] for w in words[1:] if w in _PETZ_SOUNDS), None)
    return f"{animal} {sound}" if sound else animal


def _petz(root: Path) -> Iterator[Row]:
    licenses = _petz_licenses(root)
    for path in _files(root, "petz/sounds/*.ogg"):
        lic = licenses.get(path.name)
        label = petz_label(path.stem)
        if lic and label and label.split()[0] not in ("default", "cobweb", "brushing"):
            yield {"path": str(path), "label": label, "recording_id": f"petz:{label}", "license": lic}


_BODY = {"bellycenter": "belly slap", "bellyside": "belly slap", "cheek": "cheek slap", "chestside": "chest slap",
         "chestthump": "chest thump", "fingerclap": "hand clap", "halfstomp": "foot stomp", "handclap": "hand clap",
         "head": "head tap", "heel": "foot stomp", "pinkysnap": "finger snap", "shoulderout": "shoulder slap",
         "snap": "finger snap", "stomp": "foot stomp"}


def _body_percussion(root: Path) -> Iterator[Row]:
    for path in _files(root, "Samples/body/*.wav"):
        kind = path.stem.split("_")[0]
        if kind in _BODY:
            yield {"path": str(path), "label": _BODY[kind], "recording_id": f"body:{kind}"}


_RCT2 = ((r"crowd", "crowd cheering"), (r"rain", "rain"), (r"thunder", "thunder"), (r"whistle", "train whistle"),
         (r"flush", "toilet flushing"), (r"scream", "people screaming"), (r"lift|hydrolics", "machine whirring"),
         (r"roar", "roller coaster roaring"))


def _openrct2(root: Path) -> Iterator[Row]:
    for path in _files(root, "openrct2.sound/samples/*.flac") + _files(root, "Unused/*.flac"):
        label = next((lb for pattern, lb in _RCT2 if re.search(pattern, path.stem)), None)
        if label:
            yield {"path": str(path), "label": label, "recording_id": f"openrct2:{path.stem.rstrip('_0123456789')}"}


def _instrument(pattern: str, label: str, group: Callable[[Path], str]) -> Callable[[Path], Iterator[Row]]:
    def rows(root: Path) -> Iterator[Row]:
        for path in _files(root, pattern):
            yield {"path": str(path), "label": label, "recording_id": group(path)}

    return rows


SOURCES = (
    Source("speechocean762", "jimbozhang/speechocean762", "613968e3b0b7",
           "CC BY 4.0 (README: free for commercial use; OpenSLR SLR101)", _speechocean),
    Source("PICO-tinyML-benchmark", "thegtagamer/PICO-tinyML-benchmark", "c66f6b0d78fe",
           "CC BY 4.0 (MLTK_keyworkSpotting/dataset/LICENSE)", _speech_commands),
    Source("speech-to-intent-benchmark", "Picovoice/speech-to-intent-benchmark", "47b1ca63afe4",
           "Apache-2.0 (LICENSE)", _speech_to_intent),
    Source("wake-word-benchmark", "Picovoice/wake-word-benchmark", "84919190fb18", "Apache-2.0 (LICENSE)",
           _wake_words),
    Source("donateacry-corpus", "gveres/donateacry-corpus", "6baf5aca0460", "ODbL-1.0 / DbCL-1.0 (README)",
           _donateacry),
    Source("blanket", "rafaelmardojai/blanket", "8b1c27aedde1",
           "CC0 / CC BY / public domain per file (SOUNDS_LICENSING.md)", _blanket),
    Source("scikit-maad", "scikit-maad/scikit-maad", "a726add0f86b", "BSD-3-Clause (LICENSE)", _maad),
    Source("petz", "runsy/petz", "48a3df7e3f52", "per file (petz/sounds/LICENSE.MD)", _petz),
    Source("body_percussion", "sfzinstruments/body_percussion", "4ac9d8966679", "CC0 (LICENSE)", _body_percussion),
    Source("OpenSoundEffects", "OpenRCT2/OpenSoundEffects", "0918c4828d47", "CC BY 4.0 (LICENSE.ASSETS, Credits.txt)",
           _openrct2),
    Source("karoryfer.black-and-green-guitars", "kmturley/karoryfer.black-and-green-guitars", "f370da48d378",
           "CC0 (LICENSE)", _instrument("Samples/*/*/*.wav", "electric guitar",
                                        lambda p: f"guitar:{p.parts[-3]}:{p.parts[-2]}")),
    Source("karoryfer.weresax", "sfzinstruments/karoryfer.weresax", "595d1fc1044e", "CC0 (LICENSE)",
           _instrument("Samples/alto/*.wav", "saxophone", lambda p: f"weresax:{p.stem.split('_')[0]}")),
    Source("Karoryfer.HorsePulse", "sfzinstruments/Karoryfer.HorsePulse", "6f4749d54512",
           "CC0 (LICENSE; README: royalty-free for commercial use)",
           _instrument("Samples/*/*.wav", "plucked string instrument", lambda p: f"horsepulse:{p.parent.name}")),
)


def write_source_manifests(sources_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """One manifest per source found in `sources_dir` (a folder of clones); the written paths, in `SOURCES` order."""
    sources_dir, out_dir = Path(sources_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifests = []
    for source in SOURCES:
        root = sources_dir / source.name
        if not root.is_dir():
            log.info("source %s not in %s; skipped (python -m train.clone_sources %s --only %s)", source.name,
                     sources_dir, sources_dir, source.name)
            continue
        out = out_dir / f"{source.name}.csv"
        rows = [{"source": f"{source.name}@{source.commit}", "license": source.license} | row
                for row in source.rows(root)]
        with out.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["path", "label", "source", "license", "recording_id"])
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "path": os.path.relpath(row["path"], out.parent)})
        log.info("source %s: %d files", source.name, len(rows))
        manifests.append(out)
    return manifests
