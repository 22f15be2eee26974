"""Extra training sources from Debian packages: drum one-shots, spoken words and soundfont-rendered instruments.

They fill the shared data's gaps (clean drums, many voices and languages, orchestral instruments). Packages are
fetched with `apt-get download` + `dpkg -x` (no installation, no root needed except for a missing `fluidsynth`),
each file's license comes from the package's Debian copyright file, and every source is written as a manifest that
`build_corpus(extra_manifests=...)` appends after the shared data.
"""

import csv
import fnmatch
import logging
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from train.data.render import LABELS, gm_group, render_phrases

log = logging.getLogger(__name__)

PACKAGES = ("fluid-soundfont-gm", "timgm6mb-soundfont", "hydrogen-drumkits", "sonic-pi-samples", "klettres-data",
            "ktuberling-data", "asterisk-core-sounds-en-wav", "fretsonfire-songs-sectoid", "fretsonfire-songs-muldjord",
            "hedgewars-data")
# Frets on Fire song stems: the guitar alone and the band without it; one song is one recording group, so a song's
# guitar and backing always land in the same split (the benchmark mixes held-out songs' own stems).
_SONG_STEMS = {"guitar": "electric guitar", "song": "rock band music", "rhythm": "bass guitar"}
# Hedgewars' acted voices, by file name; the rest are shouted taunts.
_VOICES = ((r"laugh", "person laughing"), (r"cough", "person coughing"), (r"yawn", "person yawning"),
           (r"ooff|ow\d|hurry|oops|uh-?oh", "person groaning"))
AUDIO = (".wav", ".flac", ".ogg", ".aiff", ".aif")
# Drum and percussion names, first match wins (hydrogen instrument names, sonic-pi and kit file names).
_DRUMS = (
    (r"\brim", "rimshot"), (r"kick|bass ?drum|\bbd|\bkik|drum_bass", "kick drum"),
    (r"snare|\bsn\b|\bsn_", "snare drum"),
    (r"hi-?hat|hihat|\b[co]?hh\b|\bhat\b|cymbal_(closed|open|pedal)", "hi-hat"), (r"\bride", "ride cymbal"),
    (r"crash", "crash cymbal"), (r"splash", "splash cymbal"), (r"china", "china cymbal"), (r"cymbal|\bcym", "cymbal"),
    (r"\btom", "tom drum"), (r"clap", "hand clap"), (r"cowbell", "cowbell"), (r"conga", "conga"), (r"bongo", "bongo"),
    (r"tambourine", "tambourine"), (r"shaker", "shaker"), (r"woodblock", "woodblock"), (r"djembe", "djembe"),
    (r"sangban|dunun|dundun|kenkeni", "dunun drum"), (r"tabla", "tabla"), (r"triangle", "triangle"),
    (r"drum_roll", "drum roll"), (r"loop_(amen|breakbeat)", "drum loop"),
)
_SONIC_PI = {"ambi_choir": "choir", "ambi_piano": "piano", "guit_": "electric guitar", "vinyl_hiss": "vinyl crackle",
             "vinyl_": "vinyl scratch", "misc_crow": "crow cawing", "misc_burp": "burp", "perc_snap": "finger snap",
             "perc_bell": "bell", "bass_": "synth bass"}
LANGUAGES = {"ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german", "el": "greek",
             "en": "english", "en_GB": "english", "es": "spanish", "fi": "finnish", "fr": "french", "ga": "irish",
             "gl": "galician", "he": "hebrew", "hu": "hungarian", "id": "indonesian", "it": "italian",
             "lt": "lithuanian", "ml": "malayalam", "nb": "norwegian", "nn": "norwegian", "nl": "dutch",
             "pt": "portuguese", "pt_BR": "portuguese", "ro": "romanian", "ru": "russian", "sl": "slovenian",
             "sr": "serbian", "sv": "swedish", "uk": "ukrainian"}


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def fetch_package(name: str, work_dir: Path, *, max_mb: float = 200.0) -> Path | None:
    """Download and unpack one package into work_dir/unpacked/<name>; None (logged) if missing or too large."""
    target = work_dir / "unpacked" / name
    if target.exists():
        return target
    show = _run(["apt-cache", "show", name])
    if show.returncode != 0:
        _run(["apt-get", "update"])
        show = _run(["apt-cache", "show", name])
    size = re.search(r"^Size: (\d+)", show.stdout, re.M)
    if size is None:
        log.warning("debian package %s not found; skipped", name)
        return None
    if int(size.group(1)) > max_mb * 1e6:
        log.warning("debian package %s is %.0f MB (> %.0f MB); skipped", name, int(size.group(1)) / 1e6, max_mb)
        return None
    debs = work_dir / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    if not list(debs.glob(f"{name}_*.deb")) and _run(["apt-get", "download", name], cwd=debs).returncode != 0:
        log.warning("apt-get download %s failed; skipped", name)
        return None
    tmp = target.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg", "-x", str(next(debs.glob(f"{name}_*.deb"))), str(tmp)], check=True)
    tmp.rename(target)  # only complete trees count as unpacked
    return target


# Licenses read by a person where the copyright file defeats the parser: free-form text (the Frets on Fire song
# packs; sectoid's file also names the GPL, of the packaging only), or `Files:` paths of the source tree that match
# installed folders by name (hedgewars: `hedgewars/*`, GPL-2 Pascal sources, would win over the sounds' stanza).
READ_LICENSES = {
    "fretsonfire-songs-sectoid": "MIT (the songs, performances and fret files)",
    "fretsonfire-songs-muldjord": "CC BY-SA 3.0 (songs by El Senator of Muldjord)",
    "hedgewars-data": "GFDL-1.3 (Files: share/hedgewars/Data/Sounds/*)",
}


def license_for(root: Path, name: str, rel: str) -> str:
    """License of an installed file from the package's machine-readable copyright (last matching `Files:` stanza,
    matched on the file name or a folder name); free-form copyright files fall back to the first license named."""
    if name in READ_LICENSES:
        return f"{READ_LICENSES[name]} (Debian {name}, copyright file)"
    text = (root / "usr/share/doc" / name / "copyright").read_text(errors="replace")
    found = f"see /usr/share/doc/{name}/copyright"
    parts = rel.split("/")
    stanzas = 0
    for para in re.split(r"\n\s*\n", text):
        files = re.search(r"^Files:((?:.*\n?)(?:[ \t].*\n?)*)", para, re.M)
        lic = re.search(r"^License: *(\S.*)", para, re.M)
        if not files or not lic:
            continue
        stanzas += 1
        for pattern in files.group(1).split():
            folder, _, pname = pattern.rpartition("/")
            pname = pname.removesuffix(".h2drumkit")
            in_folder = not folder or Path(folder).name in parts[:-1]
            if pattern == "*" or (in_folder and any(fnmatch.fnmatch(part, pname) for part in parts)):
                found = lic.group(1).strip()
    if not stanzas and (m := re.search(r"\b(MIT|GPL|CC[- ]BY[- A-Z0-9.]*|CC0)\b", text)):
        found = m.group(1)
    return f"{found} (Debian {name})"


def drum_label(text: str) -> str | None:
    """Drum/percussion label from an instrument or file name ("VariBreaks Hat 1 Op" -> "hi-hat"), else None."""
    return next((label for pattern, label in _DRUMS if re.search(pattern, text.lower())), None)


def _hydrogen_rows(root: Path) -> list[dict]:
    rows = []
    for xml in sorted((root / "usr/share/hydrogen/data/drumkits").glob("*/drumkit.xml")):
        kit = xml.parent
        kit_license = next((e.text.strip() for e in ET.parse(xml).getroot().iter() if e.tag.endswith("license")
                            and e.text and e.text.strip()), None)
        for inst in ET.parse(xml).getroot().iter():
            if not inst.tag.endswith("}instrument") and inst.tag != "instrument":
                continue
            name = next((c.text or "" for c in inst if c.tag.endswith("name")), "")
            for fn in (c.text for c in inst.iter() if c.tag.endswith("filename") and c.text):
                label = drum_label(name) or drum_label(Path(fn).stem)
                if label and (kit / fn).exists():
                    rel = str((kit / fn).relative_to(root))
                    rows.append({"path": str(kit / fn), "label": label, "rel": rel, "kit_license": kit_license,
                                 "recording_id": f"hydrogen:{kit.name.lower()}:{name.lower()}"})
    return rows


def _sonic_pi_rows(root: Path) -> list[dict]:
    rows = []
    for f in sorted((root / "usr/share/sonic-pi/samples").glob("*.flac")):
        label = next((v for k, v in _SONIC_PI.items() if f.stem.startswith(k)), None) or drum_label(f.stem)
        if label:
            rows.append({"path": str(f), "label": label, "rel": str(f.relative_to(root)),
                         "recording_id": f"sonicpi:{re.sub(r'[0-9]+$', '', f.stem)}"})
    return rows


def _speech_rows(root: Path, name: str) -> list[dict]:
    """Spoken letters, syllables and words; the language is known from the folder, the speaker's sex only for
    asterisk (one female voice), so the others are "person speaking <language>"."""
    rows = []
    for f in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO):
        rel = str(f.relative_to(root))
        if name == "asterisk-core-sounds-en-wav":
            label, group = "woman speaking", f"asterisk:{f.parent.name}:{f.stem.split('-')[0]}"  # one voice: by prompt
        else:
            lang = next((p for p in f.relative_to(root).parts if p in LANGUAGES), None)
            if lang is None:
                continue
            label, group = f"person speaking {LANGUAGES[lang]}", f"{name.split('-')[0]}:{lang}"
        rows.append({"path": str(f), "label": label, "rel": rel, "recording_id": group})
    return rows


def _song_rows(root: Path) -> list[dict]:
    rows = []
    for f in sorted((root / "usr/share/games/fretsonfire/data/songs").glob("*/*/*.ogg")):
        if f.stem in _SONG_STEMS:
            rows.append({"path": str(f), "label": _SONG_STEMS[f.stem], "rel": str(f.relative_to(root)),
                         "recording_id": f"fretsonfire:{f.parent.name.lower()}"})
    return rows


def _voice_rows(root: Path) -> list[dict]:
    rows = []
    for f in sorted((root / "usr/share/games/hedgewars/Data/Sounds/voices").glob("*/*.ogg")):
        label = next((lb for pattern, lb in _VOICES if re.search(pattern, f.stem.lower())), "person shouting")
        rows.append({"path": str(f), "label": label, "rel": str(f.relative_to(root)),
                     "recording_id": f"hedgewars:{f.parent.name.lower()}"})
    return rows


def _write_manifest(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "label", "source", "license", "recording_id"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**{k: row[k] for k in ("label", "source", "license", "recording_id")},
                             "path": os.path.relpath(row["path"], path.parent)})
    return path


def fetch_debian_sources(work_dir: str | Path, *, sample_rate: int = 16000, seed: int = 0, extra_phrases: int = 0,
                         in_train: Callable[[str], bool] | None = None) -> list[Path]:
    """Fetch all `PACKAGES` and return one manifest per source (existing manifests are reused, so reruns are cheap).

    A package that cannot be fetched is skipped with a warning; rendering needs the `fluidsynth` CLI and installs
    it with apt-get when missing (fails with a warning if that is impossible, e.g. without root).

    `extra_phrases` renders that many more phrases per instrument and font (another seed, a manifest of their own),
    but only for instruments whose recording group `in_train` says is training data: held-out instruments keep
    exactly the clips they had, so the validation set and the real-world benchmark built from them do not change.
    """
    if extra_phrases and in_train is None:
        raise ValueError("extra_phrases needs in_train, or held-out instruments would gain training clips")
    work_dir = Path(work_dir)
    manifests_dir = work_dir / "manifests"
    manifests_dir.mkdir(parents=True, exist_ok=True)
    manifests = []
    for name in PACKAGES:
        out = manifests_dir / f"{name}.csv"
        if out.exists():
            manifests.append(out)
            continue
        root = fetch_package(name, work_dir)
        if root is None:
            continue
        if _is_font(name):
            rows = _render_font(root, name, work_dir / "rendered" / name, sample_rate=sample_rate, seed=seed)
            if rows is None:
                continue
        else:
            rows = {"hydrogen-drumkits": _hydrogen_rows, "sonic-pi-samples": _sonic_pi_rows,
                    "fretsonfire-songs-sectoid": _song_rows, "fretsonfire-songs-muldjord": _song_rows,
                    "hedgewars-data": _voice_rows}.get(
                name, lambda r, n=name: _speech_rows(r, n))(root)
            for row in rows:
                lic = license_for(root, name, row.pop("rel"))
                if lic.startswith("see ") and row.get("kit_license"):  # hydrogen kits name theirs in drumkit.xml
                    lic = f"{row['kit_license']} (drumkit.xml, Debian {name})"
                row.update(source=f"debian:{name}", license=lic)
        manifests.append(_write_manifest(out, rows))
        log.info("debian %s: %d files", name, len(rows))
    if extra_phrases:
        manifests += _extra_renders(work_dir, extra_phrases, in_train, sample_rate, seed + 1)
    return manifests


def _is_font(name: str) -> bool:
    return name.endswith("soundfont") or name == "fluid-soundfont-gm"


def _render_font(root: Path, name: str, out_dir: Path, **kwargs) -> list[dict] | None:
    """Render the package's soundfont (`render_phrases` kwargs); None (logged) when fluidsynth cannot be had."""
    if shutil.which("fluidsynth") is None and _run(["apt-get", "install", "-y", "fluidsynth"]).returncode:
        log.warning("fluidsynth missing and apt-get install failed; %s not rendered", name)
        return None
    font = next((root / "usr/share/sounds/sf2").glob("*.sf2"))
    return render_phrases(font, out_dir, font_name=name, license=license_for(root, name, font.name), **kwargs)


def _extra_renders(work_dir: Path, per_program: int, in_train: Callable[[str], bool], sample_rate: int,
                   seed: int) -> list[Path]:
    """One more render per font of the training instruments only, as `<font>-extra<N>` manifests."""
    labels = {label for label in LABELS if in_train(gm_group(label))}
    manifests = []
    for name in filter(_is_font, PACKAGES):
        out = work_dir / "manifests" / f"{name}-extra{per_program}.csv"
        root = None if out.exists() else fetch_package(name, work_dir)
        if root is not None:
            rows = _render_font(root, name, work_dir / "rendered" / f"{name}-extra{per_program}",
                                sample_rate=sample_rate, seed=seed, phrases_per_program=per_program, labels=labels)
            if rows is not None:
                _write_manifest(out, rows)
                log.info("debian %s: %d extra phrases of %d training instruments", name, len(rows), len(labels))
        if out.exists():
            manifests.append(out)
    return manifests
