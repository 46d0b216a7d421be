"""Real build databases for the publish tests.

`build_with_dbt`: the synthetic raw data of tests/dbt/raw_fixtures.py (about 3,000
transactions, eight weekly as-of dates) through a real `dbt build` of the project, models and
seeds only (about 20 s). Its target/ and logs/ go to the temp dir, never the project's.

`add_contract_tables`: the tables other parts of the product promise but may not have built
yet (issue 3's history, profiles, dynamic segments and extra family columns; the ingest
contract's quarantine and load manifest), created from the dbt marts in SQL *only when
missing*, with the columns their contracts name. Once the real models exist, they are used.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb

from pipelines.settings import DBT_PROJECT_DIR
from tests.dbt.raw_fixtures import write_synthetic

AS_OF = date(2024, 6, 30)
AS_OF_DATES = [AS_OF - timedelta(days=7 * k) for k in range(8)]
DYNAMIC_SEGMENT = "frequent_buyers"  # fixture dynamic segment: 5+ orders in the lookback
DBT = Path(sys.executable).with_name("dbt")


def build_with_dbt(work_dir: Path) -> Path:
    """A build database made by the real dbt project from synthetic raw tables."""
    db = write_synthetic(work_dir / "build.duckdb", transactions=3000, as_of_dates=AS_OF_DATES)
    env = {
        **os.environ,
        "SEGMENTS_BUILD_DB": str(db),
        "SEGMENTS_REPORTING_CURRENCY": "USD",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    command = [
        str(DBT),
        "--no-use-colors",
        "build",
        "--exclude-resource-type",
        "test",
        "--exclude-resource-type",
        "unit_test",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"dbt build failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}")
    return db


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def _has_column(con: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.columns "
            "where table_schema = ? and table_name = ? and column_name = ?",
            [schema, table, column],
        ).fetchone()[0]
    )


def add_contract_tables(db: Path) -> Path:
    """Add every promised-but-missing table and column to `db` (see module docstring)."""
    with duckdb.connect(str(db)) as con:
        if not _has_column(con, "marts", "customer_segments", "value_tier"):
            # Top 10% by lookback revenue are VIPs: enough to give exports a second family.
            con.execute("alter table marts.customer_segments add column value_tier varchar")
            con.execute("""
                update marts.customer_segments s set value_tier = case
                    when t.pct >= 0.9 then 'vip' when s.frequency > 0 then 'regular' end
                from (select customer_key, percent_rank() over (order by monetary) as pct
                      from marts.customer_segments where monetary is not null) t
                where t.customer_key = s.customer_key
            """)
        if not _has_column(con, "marts", "customer_segments", "is_browser_not_buyer"):
            con.execute(
                "alter table marts.customer_segments add column is_browser_not_buyer boolean"
            )
            con.execute(
                "update marts.customer_segments "
                "set is_browser_not_buyer = coalesce(frequency, 0) <= 2"
            )
        if not _exists(con, "marts", "segment_snapshots"):
            con.execute("""
                create table marts.segment_snapshots as
                select as_of_date, customer_key, rfm_segment from marts.rfm_segments
            """)
        if not _exists(con, "marts", "segment_transitions"):
            con.execute("""
                create table marts.segment_transitions as
                with dates as (
                    select as_of_date, lag(as_of_date) over (order by as_of_date) as previous
                    from (select distinct as_of_date from marts.segment_snapshots)
                )
                select 'rfm' as segment_family, d.previous as from_as_of_date,
                       d.as_of_date as to_as_of_date, a.rfm_segment as from_segment,
                       b.rfm_segment as to_segment, count(*) as customers
                from dates d
                join marts.segment_snapshots b on b.as_of_date = d.as_of_date
                join marts.segment_snapshots a
                    on a.as_of_date = d.previous and a.customer_key = b.customer_key
                group by all
            """)
        if not _exists(con, "marts", "segment_profiles"):
            con.execute("""
                create table marts.segment_profiles as
                select as_of_date, 'rfm' as segment_family, rfm_segment as segment,
                       count(*) as customers,
                       count(*) / sum(count(*)) over (partition by as_of_date) as customer_share,
                       sum(monetary) as net_revenue
                from marts.rfm_segments group by as_of_date, rfm_segment
            """)
        if not _exists(con, "marts", "dynamic_segment_members"):
            con.execute(f"""
                create table marts.dynamic_segment_members as
                select as_of_date, '{DYNAMIC_SEGMENT}' as segment_name, customer_key
                from marts.rfm_segments where frequency >= 5
            """)
        if not _exists(con, "meta", "load_manifest"):
            con.execute("""
                create table meta.load_manifest (
                    source varchar, file_path varchar, file_sha256 varchar, file_bytes bigint,
                    status varchar, error varchar, rows_in_file bigint, rows_loaded bigint,
                    rows_quarantined bigint, rows_waiting bigint, min_partition_date date,
                    max_partition_date date, first_seen_at timestamp, loaded_at timestamp,
                    reader_fingerprint varchar)
            """)
            con.execute("""
                insert into meta.load_manifest values
                ('shopify', 'shopify/s.csv', 'a1', 1000, 'loaded', null, 102, 100, 2, 0,
                 '2022-07-01', '2024-06-30', '2024-07-01 02:00', '2024-07-01 02:00', 'f'),
                ('shopify', 'shopify/broken.csv', 'b2', 10, 'failed', 'no header row', 0, 0, 0, 0,
                 null, null, '2024-07-01 02:00', null, 'f')
            """)
        if not _exists(con, "quarantine", "shopify"):
            con.execute("create schema if not exists quarantine")
            con.execute("""
                create table quarantine.shopify as
                select 'shopify/s.csv' as _source_file, i + 2 as _source_line,
                       timestamp '2024-07-01 02:00' as _loaded_at,
                       date '2024-06-01' as _partition_date,
                       'invalid_amount' as reason_code,
                       'Total=''12,3x'' is not a number' as reason_detail,
                       'raw' as raw_record
                from range(2) t(i)
            """)
    return db
