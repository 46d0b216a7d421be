"""`segments unload PATH`: retract a loaded file's rows from raw and quarantine.

The way out when a file should never have been loaded (a re-export of orders already loaded,
a test file, a file from the wrong shop): deleting the file from the landing zone keeps its
rows (archiving loaded files is allowed), so retracting is an explicit command.

In one transaction: delete the file's rows from raw.<table> and quarantine.<source>, and mark
its manifest row `unloaded` (rows_loaded = rows_quarantined = 0). Later runs do not load the
same bytes again; changed bytes under that path load as a new version. `--undo` forgets the
retraction (deletes the manifest row), so the next run loads the file again if it is still
in the landing zone. The published files keep the rows until the next successful run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipelines.lib import duck

from . import manifest
from .loader import get_spec
from .manifest import UNLOADED
from .spec import IngestError


@dataclass(frozen=True)
class UnloadResult:
    file_path: str
    source: str
    raw_rows: int
    quarantine_rows: int
    undone: bool = False


def landing_relative(path: str, landing_dir: Path) -> str:
    """PATH as the manifest names it (relative to the landing zone): accepts that form, or a
    path to the file (absolute or from the current folder) inside the landing zone."""
    candidate = Path(path)
    landing = landing_dir.resolve()
    absolute = candidate if candidate.is_absolute() else Path.cwd() / candidate
    absolute = Path(os.path.normpath(absolute))
    if absolute.is_relative_to(landing):
        return absolute.relative_to(landing).as_posix()
    return candidate.as_posix().removeprefix("./")


def unload_file(
    path: str, landing_dir: Path, build_db: Path, *, undo: bool = False
) -> UnloadResult:
    """Retract one file's rows (or, with `undo`, forget its retraction). IngestError names the
    file when the manifest does not know it; DatabaseBusyError while a run holds the build DB."""
    rel = landing_relative(path, landing_dir)
    if not Path(build_db).exists():
        raise IngestError(f"{rel}: nothing is loaded yet ({build_db} does not exist).")
    with duck.connect(build_db) as con:
        manifest.ensure(con)
        found = con.execute(
            f"SELECT source, status FROM {manifest.TABLE} WHERE file_path = ?", [rel]
        ).fetchall()
        if not found:
            known = con.execute(
                f"SELECT file_path FROM {manifest.TABLE} ORDER BY jaro_winkler_similarity("
                "file_path, ?) DESC LIMIT 3",
                [rel],
            ).fetchall()
            hint = f" Closest known: {', '.join(r[0] for r in known)}." if known else ""
            raise IngestError(
                f"{rel}: no such file in meta.load_manifest; give the path relative to the "
                f"landing zone ({landing_dir}), e.g. shopify/orders.csv.{hint}"
            )
        source, status = found[0]
        if undo:
            if status != UNLOADED:
                raise IngestError(f"{rel}: not unloaded (its status is {status}); nothing to undo.")
            con.execute(f"DELETE FROM {manifest.TABLE} WHERE file_path = ?", [rel])
            return UnloadResult(rel, source, 0, 0, undone=True)
        spec = get_spec(source)
        con.execute("BEGIN TRANSACTION")
        try:
            counts = []
            for table in (f"raw.{spec.table}", f"quarantine.{spec.quarantine}"):
                schema, name = table.split(".")
                if not duck.table_exists(con, schema, name):
                    counts.append(0)
                    continue
                where = f"FROM {table} WHERE _source_file = ?"
                counts.append(con.execute(f"SELECT count(*) {where}", [rel]).fetchone()[0])
                con.execute(f"DELETE {where}", [rel])
            con.execute(
                f"UPDATE {manifest.TABLE} SET status = ?, error = NULL, rows_loaded = 0, "
                "rows_quarantined = 0, rows_waiting = NULL WHERE file_path = ?",
                [UNLOADED, rel],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return UnloadResult(rel, source, counts[0], counts[1])
