"""A folder of files that is replaced as a set: versions plus a `current` symlink.

Parquet files and segment exports are many files, and a reader must never see half of one
publish and half of the next. `os.replace` is atomic for one path only, so each publish
writes a complete version folder, then swaps one symlink:

    <parent>/
      current -> v20261122T020311Z-3f9c1a      the one path readers use
      v20261122T020311Z-3f9c1a/                 this publish
      v20261121T020304Z-77b0e2/                 the previous one, kept for readers mid-read
      .staging-.../                             being written (invisible to readers)

A reader resolves `current` once (`os.path.realpath`) and reads every file from that folder;
it then sees one publish, even if a newer one is swapped in meanwhile. The previous version
is kept (`KEEP_VERSIONS`) so such a reader can finish; older ones are deleted.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

CURRENT = "current"
VERSION_PREFIX = "v"
STAGING_PREFIX = ".staging-"
# The current version and the one before it: a reader that resolved `current` just before a
# swap keeps a complete set for at least one publish interval (a day on the schedule).
KEEP_VERSIONS = 2
# A staging folder this old is debris of a crashed run, not a publish in progress.
STALE_STAGING_SECONDS = 6 * 3600


# Only folders named like this are ever deleted by `prune`, never anything else a user keeps
# beside them (e.g. `exports/on_demand/`).
_VERSION_NAME = re.compile(rf"^{VERSION_PREFIX}\d{{8}}T\d{{12}}Z-[0-9a-f]{{6}}$")


def new_version_name(now: datetime | None = None) -> str:
    """`v<UTC timestamp>-<random>`: sorts by time, unique even within one second."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{VERSION_PREFIX}{stamp}-{uuid.uuid4().hex[:6]}"


def current_version(parent: Path) -> Path | None:
    """The folder `parent/current` points at, resolved once; None before the first publish."""
    link = parent / CURRENT
    if not link.is_symlink():
        return None
    return (parent / os.readlink(link)).resolve()


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    """Flush every file and folder under `folder`, so a crash after the swap cannot expose
    a version whose files are still only in the page cache."""
    for path in sorted(folder.rglob("*"), reverse=True):
        _fsync_path(path)
    _fsync_path(folder)


def _point_current(parent: Path, version: str) -> None:
    """Swap `parent/current` to `version` atomically (a new symlink renamed over the old)."""
    link = parent / CURRENT
    if link.exists() and not link.is_symlink():
        raise RuntimeError(
            f"{link} is a real folder or file, not the symlink the publish swaps. Move it "
            "away (it is not written by this pipeline) and publish again."
        )
    tmp = parent / f".{CURRENT}-{version}"
    tmp.unlink(missing_ok=True)
    # A relative target keeps the tree valid when the warehouse folder is moved or mounted.
    os.symlink(version, tmp)
    os.replace(tmp, link)
    _fsync_path(parent)


def prune(parent: Path, keep: int = KEEP_VERSIONS) -> list[Path]:
    """Delete versions beyond the newest `keep` (never the current one) and stale staging
    folders; returns what was deleted."""
    current = current_version(parent)
    versions = sorted(
        (p for p in parent.iterdir() if _VERSION_NAME.match(p.name) and not p.is_symlink()),
        key=lambda p: p.name,
        reverse=True,
    )
    doomed = [p for p in versions[keep:] if p.resolve() != current]
    cutoff = time.time() - STALE_STAGING_SECONDS
    doomed += [p for p in parent.glob(f"{STAGING_PREFIX}*") if p.stat().st_mtime < cutoff]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


@contextmanager
def staged_version(parent: Path) -> Iterator[Path]:
    """Yield an empty staging folder; when the block succeeds it becomes `parent/current`.

    If the block raises, the staging folder is deleted and `current` still points at the
    previous version, untouched.
    """
    parent.mkdir(parents=True, exist_ok=True)
    version = new_version_name()
    staging = parent / f"{STAGING_PREFIX}{version}"
    staging.mkdir()
    try:
        yield staging
        _fsync_tree(staging)
        os.rename(staging, parent / version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _point_current(parent, version)
    prune(parent)
