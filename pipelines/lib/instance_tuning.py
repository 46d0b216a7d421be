"""Make the local Dagster instance's SQLite storage fast enough for partition-range runs.

Dagster records one event per asset per partition, and its SQLite storage opens and closes a
connection per event. With SQLite's default `synchronous=FULL` each commit, and the WAL
checkpoint on each close, waits for an fsync: measured here at 5-18 ms each, so a run over
400 daily partitions spent 8.5 minutes writing "planned" events before doing any work.
`synchronous=OFF` drops the fsyncs (0.02 ms per commit). The cost: an OS crash or power loss
(not a killed process) can lose or damage the *run history* in $DAGSTER_HOME; the warehouse
and the published file are DuckDB files and are not affected. A production deployment should
point dagster.yaml at PostgreSQL storage, where this module changes nothing. Imported for its
side effect by pipelines.definitions and the CLI, so every process that writes events gets it.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine

_INSTALLED = False


def _on_connect(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()


def install() -> None:
    global _INSTALLED
    if not _INSTALLED:
        event.listen(Engine, "connect", _on_connect)
        _INSTALLED = True


install()
