"""Clone the repositories of `../shared/data/SOURCES.md` at their checked commits: `python -m train.clone_sources DIR`.

Why: data preparation reads a folder of clones (`data.sources_dir`), and each clone must sit at the commit whose
license was checked (`train.data.sources.SOURCES`), not at whatever the default branch holds today. One command
instead of thirteen `git clone` + `git checkout` lines; it can be rerun: clones already at their commit are left
alone, and one repository that fails (network, a moved repository) does not stop the others.
"""

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from train.data.sources import SOURCES, Source

GITHUB = "https://github.com"


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], capture_output=True, text=True)


def _at_commit(clone: Path, commit: str) -> bool:
    head = _git("-C", str(clone), "rev-parse", "HEAD")
    return head.returncode == 0 and head.stdout.strip().startswith(commit)


def clone_source(source: Source, dest: Path, base_url: str = GITHUB) -> str:
    """Clone (or move an existing clone) to `source.commit`; a one-line report, or RuntimeError with git's words."""
    clone = dest / source.name
    if clone.is_dir() and _at_commit(clone, source.commit):
        return f"{source.name}: already at {source.commit}"
    if not clone.is_dir():
        done = _git("clone", "--quiet", "--no-checkout", f"{base_url}/{source.repo}", str(clone))
        if done.returncode != 0:
            shutil.rmtree(clone, ignore_errors=True)
            raise RuntimeError(f"{source.name}: git clone {base_url}/{source.repo} failed: {done.stderr.strip()}")
    done = _git("-C", str(clone), "checkout", "--quiet", source.commit)
    if done.returncode != 0:
        raise RuntimeError(f"{source.name}: commit {source.commit} not found in {clone} ({done.stderr.strip()}); "
                           f"delete the folder and rerun, or fetch it: git -C {clone} fetch origin {source.commit}")
    return f"{source.name}: at {source.commit}"


def clone_all(dest: str | Path, sources: tuple[Source, ...] = SOURCES, base_url: str = GITHUB) -> list[str]:
    """Clone every source into `dest`; the names that failed (each failure is printed with what to do)."""
    if shutil.which("git") is None:
        raise SystemExit("git is not installed; install it (apt install git) and rerun")
    dest = Path(dest).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    failed = []
    for i, source in enumerate(sources, 1):
        try:
            print(f"[{i}/{len(sources)}] {clone_source(source, dest, base_url)}", flush=True)
        except RuntimeError as err:
            print(f"[{i}/{len(sources)}] {err}", file=sys.stderr, flush=True)
            failed.append(source.name)
    return failed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m train.clone_sources", description=__doc__.split("\n")[0],
        epilog="Then: python -m train.prepare_data data.sources_dir=DIR. A missing clone is skipped there, so any "
               "subset works; licenses are listed in the README's 'Training data and licenses'.")
    parser.add_argument("dest", help="folder for the clones, e.g. ~/lasso-sources (created if missing)")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=[s.name for s in SOURCES],
                        help="clone only these sources (folder names as in train/data/sources.py)")
    parser.add_argument("--base-url", default=GITHUB, help=f"where owner/name repositories live (default {GITHUB}; "
                                                           "a mirror or a local folder of bare repositories)")
    args = parser.parse_args(argv)
    sources = tuple(s for s in SOURCES if not args.only or s.name in args.only)
    failed = clone_all(args.dest, sources, args.base_url)
    if failed:
        raise SystemExit(f"{len(failed)} of {len(sources)} not cloned: {', '.join(failed)}; rerun to retry them")
    print(f"all {len(sources)} at their commits in {args.dest}; next: python -m train.prepare_data "
          f"data.sources_dir={args.dest}")


if __name__ == "__main__":
    main()
