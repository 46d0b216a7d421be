"""Is the landing zone laid out as the sources read it? One line when it is not.

Each source reads only its own folder, `<landing>/<source>/...` (`generic/<name>/` next to a
mapping.yml). A misspelled `SEGMENTS_LANDING_DIR`, an empty directory, or files lying where no
source reads them (the landing root, a folder such as `shopfy/`) used to run the whole job on
nothing and fail at the first mart check ("customer_segments: gx_critical"). `check` says so
before anything runs:

- no file in any source folder, and nothing loaded before → an error: the run stops;
- no file in any source folder, but files were loaded before (archived after loading) → a
  note: the run computes from the rows already loaded;
- files outside the source folders while other sources have files → a warning: the run
  loads the rest, those files are not read.

Decided from the file system alone (names, no file is opened), so it is cheap enough for the
CLI to run before every run and for the landing sensor to mention in its skip reason.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

from .loader import SOURCES

MAX_NAMED = 5  # stray entries named in the one line


def expected_layout() -> str:
    plain = ", ".join(f"{name}/" for name in SOURCES if name != "generic")
    return (
        f"expected layout: <landing>/<source>/<file> with <source> one of {plain} or "
        "generic/<name>/ next to a mapping.yml (README 'Landing zone')"
    )


def _visible(name: str) -> bool:
    return not name.startswith(".")


def _has_file(folder: Path) -> bool:
    """Any non-hidden file below `folder` (a source folder may be a link to a mount)."""
    for _dirpath, dirnames, filenames in os.walk(folder.resolve()):
        dirnames[:] = [d for d in dirnames if _visible(d)]
        if any(_visible(f) for f in filenames):
            return True
    return False


def _count_files(folder: Path) -> int:
    n = 0
    for _dirpath, dirnames, filenames in os.walk(folder.resolve()):
        dirnames[:] = [d for d in dirnames if _visible(d)]
        n += sum(1 for f in filenames if _visible(f))
    return n


@dataclass(frozen=True)
class Layout:
    landing_dir: Path
    exists: bool
    sources_with_files: tuple[str, ...] = ()
    # Entries no source reads: a file in the landing root (`orders.csv`) or a folder with
    # files that is not a source (`shopfy/ (3 files; did you mean shopify/?)`).
    stray: tuple[str, ...] = field(default_factory=tuple)

    @property
    def has_source_files(self) -> bool:
        return bool(self.sources_with_files)

    def stray_text(self) -> str:
        named = ", ".join(self.stray[:MAX_NAMED])
        more = len(self.stray) - MAX_NAMED
        return named + (f" and {more} more" if more > 0 else "")


def scan(landing_dir: Path) -> Layout:
    """Which source folders hold files, and which entries lie where no source reads them."""
    landing_dir = Path(landing_dir)
    if not landing_dir.is_dir():
        return Layout(landing_dir, exists=False)
    with_files: list[str] = []
    stray: list[str] = []
    for entry in sorted(landing_dir.iterdir()):
        if not _visible(entry.name):
            continue
        if entry.name in SOURCES:
            if entry.is_dir() and _has_file(entry):
                with_files.append(entry.name)
            elif entry.is_file():
                stray.append(f"{entry.name} (a file named like a source folder)")
            continue
        if entry.is_dir():
            n = _count_files(entry)
            if n:
                close = difflib.get_close_matches(entry.name.lower(), list(SOURCES), n=1)
                hint = f"; did you mean {close[0]}/?" if close else ""
                stray.append(f"{entry.name}/ ({n} file{'s' if n != 1 else ''}{hint})")
        elif entry.is_file() or entry.is_symlink():
            stray.append(entry.name)
    return Layout(landing_dir, True, tuple(with_files), tuple(stray))


@dataclass(frozen=True)
class Finding:
    level: str  # error | warning | note
    message: str  # one line


def check(layout: Layout, files_loaded_before: int = 0) -> Finding | None:
    """What to tell the user before a run, or None when the layout is fine."""
    where = f"{layout.landing_dir} (SEGMENTS_LANDING_DIR)"
    if layout.has_source_files:
        if layout.stray:
            return Finding(
                "warning",
                f"{layout.landing_dir}: {layout.stray_text()} lie where no source reads them "
                f"and are not loaded; {expected_layout()}.",
            )
        return None
    if not layout.exists:
        missing = "is a file, not a directory" if layout.landing_dir.exists() else "does not exist"
        what = f"no files found in {where}: the directory {missing}"
    elif layout.stray:
        what = (
            f"no files found in the source folders of {where}: {layout.stray_text()} lie "
            "where no source reads them"
        )
    else:
        what = f"no files found in {where}: the directory is empty"
    if files_loaded_before:
        return Finding(
            "note",
            f"{what}; computing segments from the {files_loaded_before} file(s) loaded "
            f"before. If that is not intended, {expected_layout()}.",
        )
    return Finding("error", f"{what}; {expected_layout()}. Nothing was run.")
