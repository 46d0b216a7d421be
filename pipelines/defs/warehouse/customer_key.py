"""The secret that makes published `customer_key`s irreversible (issue 11).

`customer_key` = md5(secret || ':' || anchor identifier), computed in
`int_customer_identity` (macro `customer_key` in dbt_project/macros/identity.sql). An unsalted
md5 of `'email:' || email` could be matched back to people by anyone holding an email list
(376 of 376 published keys were); without the secret, hashing a list of emails, phones or
account ids finds nothing.

The secret: 32 random bytes (hex), generated on the first run and kept in
`$SEGMENTS_WAREHOUSE_DIR/customer_key.secret` (mode 0600, never in git, never in a published
file). The pipeline copies it into `meta.customer_key_secret` of the build database before
dbt runs, so dbt reads it like any other input and it never appears in compiled SQL, dbt's
logs or its partial-parse state. The build database already holds every email in clear, so
the copy there gives away nothing new; the build database doubles as a backup of the file.

Keys must stay the same from run to run, or the incremental history (segment_snapshots,
transitions, profiles, dynamic segment members) would split every customer in two. So:

- file and table agree → nothing to do (every run after the first);
- no file, no table → a new secret (a new warehouse);
- no file, table → the file is restored from the table (someone deleted it);
- file, no table, no history → the file's secret (a new build database, e.g. moved);
- file, no table, history present → the history was keyed without a secret (a warehouse
  from before this rule): the tables holding `customer_key` history are dropped, so this run
  rebuilds them as a first refresh, with the new keys;
- file and table differ → the run stops: keys would change. The message says which file to
  restore, or to delete build.duckdb to re-key everything from the landing zone.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import duckdb

SECRET_FILE_NAME = "customer_key.secret"
SECRET_TABLE = "meta.customer_key_secret"
SECRET_BYTES = 32
# Incremental tables that keep customer_key across runs (a first refresh rebuilds them).
HISTORY_TABLES = (
    ("marts", "segment_snapshots"),
    ("marts", "segment_transitions"),
    ("marts", "segment_profiles"),
    ("marts", "rfm_score_cutoffs"),
    ("marts", "segment_settings_used"),
    ("marts", "dynamic_segment_members"),
)


class CustomerKeySecretError(RuntimeError):
    """The secret file and the build database disagree; keys would change."""


def secret_file(warehouse_dir: Path) -> Path:
    return warehouse_dir / SECRET_FILE_NAME


def _read_file(path: Path) -> str | None:
    if not path.exists():
        return None
    value = path.read_text(encoding="ascii").strip()
    if len(value) < 2 * SECRET_BYTES or not all(c in "0123456789abcdef" for c in value):
        raise CustomerKeySecretError(
            f"{path} does not hold a {2 * SECRET_BYTES}-hex-digit customer_key secret: restore "
            "it from a backup (or delete it and build.duckdb to re-key every customer)"
        )
    return value


def _write_file(path: Path, value: str) -> None:
    """Write the secret 0600 from the first byte (never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _existing(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    return {
        (schema, name)
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
    }


def ensure_customer_key_secret(warehouse_dir: Path, build_db: Path) -> dict[str, object]:
    """Make the secret file and `meta.customer_key_secret` agree (rules in the module doc);
    returns what was done, for the asset's metadata (never the secret)."""
    path = secret_file(warehouse_dir)
    from_file = _read_file(path)
    with duckdb.connect(os.fspath(build_db)) as con:
        tables = _existing(con)
        from_table = None
        if ("meta", "customer_key_secret") in tables:
            row = con.execute(f"select max(secret) from {SECRET_TABLE}").fetchone()
            from_table = row[0] if row else None
        dropped: list[str] = []
        if from_file and from_table and from_file != from_table:
            raise CustomerKeySecretError(
                f"{path} differs from the customer_key secret build.duckdb was keyed with: "
                "restore the original file (or delete build.duckdb to re-key every customer)"
            )
        if from_file is None and from_table is not None:
            action, value = "restored the file from build.duckdb", from_table
            _write_file(path, value)
        elif from_file is None:
            action, value = "generated a new secret", secrets.token_hex(SECRET_BYTES)
            _write_file(path, value)
        else:
            action, value = "unchanged", from_file
        if from_table is None:
            # keys of any existing history were made without this secret: rebuild it
            for schema, name in HISTORY_TABLES:
                if (schema, name) in tables:
                    con.execute(f"drop table {schema}.{name}")
                    dropped.append(f"{schema}.{name}")
            con.execute("create schema if not exists meta")
            con.execute(f"create or replace table {SECRET_TABLE} (secret varchar not null)")
            con.execute(f"insert into {SECRET_TABLE} values (?)", [value])
    os.chmod(path, 0o600)
    return {"secret_file": str(path), "action": action, "history_dropped": dropped}
