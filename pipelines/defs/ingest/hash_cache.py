"""Content hashes of landed files, reused while a file's stat is unchanged (git's index rule).

A run decides per file by its sha256 (each file loaded exactly once by content). Hashing every
landed file on every run re-read the whole landing zone to find the day's new file: 9.5 GB
and ~20 s of a 10M-transaction daily run that loaded nothing. Like git's index, the hash of
a file is reused while the file's stat is what it was when it was hashed: size, mtime and
ctime in nanoseconds, inode and device. Any write to a file moves its ctime, which no tool can
set back (`touch -d` sets mtime and moves ctime), and a file replaced under the same name has
a new inode. A hash taken less than RACY_SECONDS after the file last changed is not reused
(git's "racily clean" files): a second write within the same timestamp tick would not show
in the stat, so such a file is hashed again next time.

Kept in meta.file_hashes (one row per landed file, by absolute path); advisory only: a
missing or stale row costs one hash, never a wrong decision.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.lib.duck import table_exists

from .files import sha256_of

TABLE = "meta.file_hashes"
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    source VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    size BIGINT, mtime_ns BIGINT, ctime_ns BIGINT, inode BIGINT, device BIGINT,
    sha256 VARCHAR NOT NULL,
    hashed_at_ns BIGINT NOT NULL
)
"""
RACY_SECONDS = 2


@dataclass(frozen=True)
class _Entry:
    stat: tuple[int, int, int, int, int]
    sha256: str
    hashed_at_ns: int


def _stat(path: Path) -> tuple[int, int, int, int, int]:
    st = os.stat(path)
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


class HashCache:
    """sha256 of the files of one source, from meta.file_hashes where the stat allows."""

    def __init__(self, con: duckdb.DuckDBPyConnection, source: str) -> None:
        """Reads the source's hashes (a read-only connection is fine: the sensor's)."""
        self.source = source
        rows = (
            con.execute(
                f"SELECT path, size, mtime_ns, ctime_ns, inode, device, sha256, hashed_at_ns "
                f"FROM {TABLE} WHERE source = ?",
                [source],
            ).fetchall()
            if table_exists(con, "meta", "file_hashes")
            else []
        )
        self._known = {
            path: _Entry((size, mtime, ctime, inode, device), sha, hashed_at)
            for path, size, mtime, ctime, inode, device, sha, hashed_at in rows
        }
        self._seen: dict[str, _Entry] = {}
        self.reused = 0
        self.hashed = 0

    def sha256(self, path: Path) -> tuple[str, int]:
        """(sha256, size) of the file, hashed only when its stat changed since last time."""
        key = os.fspath(Path(path).absolute())
        before = _stat(path)
        known = self._known.get(key)
        racy_ns = RACY_SECONDS * 1_000_000_000
        if (
            known is not None
            and known.stat == before
            and known.stat[2] < known.hashed_at_ns - racy_ns
        ):
            self._seen[key] = known
            self.reused += 1
            return known.sha256, before[0]
        hashed_at = time.time_ns()
        sha, size = sha256_of(path)
        self.hashed += 1
        if _stat(path) == before and size == before[0]:  # not written while being read
            self._seen[key] = _Entry(before, sha, hashed_at)
        return sha, size

    def save(self, con: duckdb.DuckDBPyConnection) -> None:
        """Keep the hashes of the files seen by this run (and only those) for the next one."""
        con.execute("CREATE SCHEMA IF NOT EXISTS meta")
        con.execute(DDL)
        con.execute(f"DELETE FROM {TABLE} WHERE source = ?", [self.source])
        rows = [
            [self.source, path, *e.stat, e.sha256, e.hashed_at_ns] for path, e in self._seen.items()
        ]
        if rows:
            con.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
