"""A BI tool reads the published file through SQLAlchemy + duckdb-engine while refreshes run.

The refresher is another process, as the pipeline is for a BI tool; it publishes again and
again while this process runs the queries a dashboard runs (docs/bi_connections.md), on new
connections (Superset's NullPool) and on one long-lived connection (DBeaver). No query may
fail, and every answer must be internally consistent (one publish, never half of two).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.defs.publish.publish import publish

PUBLISHES = 5

REFRESHER = """
import sys
from pathlib import Path
from pipelines.defs.publish.publish import publish
build, target, parquet = (Path(arg) for arg in sys.argv[1:4])
n = int(sys.argv[4])
for i in range(n):
    publish(build, target, parquet_dir=parquet)
    print(i, flush=True)
"""

SEGMENT_SIZES = """
    select coalesce(rfm_segment, '(no purchase in lookback)') as segment, count(*) as customers
    from customer_segments group by 1 order by 2 desc
"""
REVENUE_BY_SEGMENT = """
    select rfm_segment, sum(monetary) as revenue,
           sum(monetary) / sum(sum(monetary)) over () as share
    from customer_segments where rfm_segment is not null group by 1 order by 2 desc
"""
TOTAL = "select count(*), sum(monetary) from customer_segments"


def _transitions_sql(connection: sa.Connection) -> str:
    """The dashboard's transitions query on whatever this build publishes (see the doc)."""
    columns = {
        row[0]
        for row in connection.execute(
            sa.text(
                "select column_name from information_schema.columns "
                "where table_name = 'customer_segments'"
            )
        )
    }
    if "previous_rfm_segment" in columns:
        return (
            "select previous_rfm_segment, rfm_segment, count(*) from customer_segments "
            "where previous_rfm_segment is distinct from rfm_segment group by all"
        )
    return "select * from segment_transitions order by customers desc"


def _dashboard(connection: sa.Connection) -> None:
    """Run the dashboard's queries on one connection and check they agree with each other."""
    sizes = connection.execute(sa.text(SEGMENT_SIZES)).all()
    revenue = connection.execute(sa.text(REVENUE_BY_SEGMENT)).all()
    customers, total_revenue = connection.execute(sa.text(TOTAL)).one()
    assert sum(n for _, n in sizes) == customers > 0
    assert sum(r for _, r, _ in revenue) == total_revenue
    assert abs(sum(s for _, _, s in revenue) - 1) < 1e-9
    assert connection.execute(sa.text(_transitions_sql(connection))).all()


@pytest.fixture()
def published(full_build: Path, tmp_path: Path) -> Path:
    return publish(full_build, tmp_path / "segments.duckdb", parquet_dir=tmp_path / "parquet").path


def test_dashboard_queries_never_fail_while_refreshes_run(
    full_build: Path, published: Path, tmp_path: Path
):
    url = f"duckdb:///{published}?access_mode=read_only"
    per_query = sa.create_engine(url, poolclass=sa.pool.NullPool)  # Superset's way
    refresher = subprocess.Popen(
        [
            sys.executable,
            "-c",
            REFRESHER,
            str(full_build),
            str(published),
            str(tmp_path / "parquet"),
            str(PUBLISHES),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    rounds, inodes = 0, set()
    try:
        with sa.create_engine(url).connect() as long_lived:  # DBeaver's way
            deadline = time.monotonic() + 120
            while refresher.poll() is None and time.monotonic() < deadline:
                inodes.add(published.stat().st_ino)
                with per_query.connect() as connection:
                    _dashboard(connection)
                _dashboard(long_lived)
                rounds += 1
    finally:
        refresher.kill() if refresher.poll() is None else None
        out, err = refresher.communicate()
    assert refresher.returncode == 0, err
    assert out.split() == [str(i) for i in range(PUBLISHES)]
    assert rounds >= 3, "the refresher finished before the readers could overlap with it"
    assert len(inodes) >= 2, "no swap happened while the dashboard was querying"
    # Once its connections are closed, a reader opens the newest publish.
    with per_query.connect() as connection:
        _dashboard(connection)


def test_sqlalchemy_sees_the_tables_and_cannot_write(published: Path):
    engine = sa.create_engine(
        f"duckdb:///{published}?access_mode=read_only", poolclass=sa.pool.NullPool
    )
    with engine.connect() as connection:
        names = set(sa.inspect(connection).get_table_names())
        assert {"customer_segments", "segment_transitions", "dynamic_segment_members"} <= names
        comment = connection.execute(
            sa.text("select comment from duckdb_tables() where table_name = 'customer_segments'")
        ).scalar_one()
        assert comment.startswith("One row per customer")
        with pytest.raises(sa.exc.DBAPIError, match="read-only"):
            connection.execute(sa.text("create table scratch (i int)"))
