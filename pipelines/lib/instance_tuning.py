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

Second, the SQLite storages build a new SQLAlchemy `Engine` for every connection, and each new
engine starts with an empty statement cache, so every insert of every event is compiled from
scratch (a cProfile of a 200-partition run: 4,562 events, 12,210 engines, ~14 ms an event).
`install()` makes those modules reuse one engine per database URL. The pool stays `NullPool`
(a fresh SQLite connection per use, as before), so locking and threads behave as Dagster
expects; only the compiled-statement cache is kept.
"""

from __future__ import annotations

import sqlite3
import threading

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

_INSTALLED = False


def _on_connect(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()


_ENGINES: dict[tuple, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _reused_engine(url, *args, **kwargs) -> Engine:
    """`sqlalchemy.create_engine`, but one engine per SQLite URL with a NullPool."""
    if args or kwargs.get("poolclass") is not NullPool or not str(url).startswith("sqlite"):
        return sqlalchemy.create_engine(url, *args, **kwargs)
    key = (str(url), repr(sorted(kwargs.get("connect_args", {}).items())))
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _ENGINES[key] = sqlalchemy.create_engine(url, **kwargs)
        return engine


def _reuse_engines() -> None:
    from dagster._core.storage.event_log.sqlite import sqlite_event_log
    from dagster._core.storage.runs.sqlite import sqlite_run_storage
    from dagster._core.storage.schedules.sqlite import sqlite_schedule_storage

    for module in (sqlite_event_log, sqlite_run_storage, sqlite_schedule_storage):
        if getattr(module, "create_engine", None) is sqlalchemy.create_engine:
            module.create_engine = _reused_engine


def install() -> None:
    global _INSTALLED
    if not _INSTALLED:
        event.listen(Engine, "connect", _on_connect)
        _reuse_engines()
        _INSTALLED = True


install()
