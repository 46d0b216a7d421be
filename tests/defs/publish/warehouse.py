"""Real build databases for the publish tests.

`build_with_dbt`: the synthetic raw data of tests/dbt/raw_fixtures.py (about 3,000
transactions, eight weekly as-of dates) through a real `dbt build` of the project, models and
seeds only (about 20 s). Its target/ and logs/ go to the temp dir, never the project's.

`add_contract_tables`: what the rest of the pipeline adds to the dbt build, each made by the
product's own code (dynamic segment members, the load manifest and quarantine from a real
ingest). The marts the dbt contract promises are checked, never fabricated: a model that
loses a contract column fails the publish tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from pipelines.settings import DBT_PROJECT_DIR
from tests.dbt.raw_fixtures import write_synthetic

AS_OF = date(2024, 6, 30)
AS_OF_DATES = [AS_OF - timedelta(days=7 * k) for k in range(8)]
DYNAMIC_SEGMENT = "frequent_buyers"  # fixture dynamic segment: 5+ orders in the lookback
DBT = Path(sys.executable).with_name("dbt")
SHOPIFY_FIXTURE = (
    Path(__file__).resolve().parents[2] / "fixtures" / "shopify" / "orders_export_2024-03.csv"
)


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


# The tables the marts contract promises (docs/published_schema.md): the dbt build must make
# them. Publish tests fail when a model loses one, instead of fabricating it here.
DBT_CONTRACT = {
    ("marts", "customer_segments"): ("value_tier", "is_browser_not_buyer", "rfm_segment"),
    ("marts", "segment_snapshots"): ("as_of_date", "customer_key"),
    ("marts", "segment_transitions"): ("segment_family", "from_segment", "to_segment"),
    ("marts", "segment_profiles"): ("as_of_date", "segment_family", "segment", "customers"),
}
DYNAMIC_DEFINITION = f"""
name: {DYNAMIC_SEGMENT}
description: Customers with 5 or more orders.
conditions:
  all:
    - {{column: orders_count, op: ">=", value: 5}}
"""
INGEST_NOW = datetime(2024, 7, 1, 2, 0)


def missing_contract(db: Path) -> list[str]:
    """`schema.table.column`s of DBT_CONTRACT that the build database lacks."""
    with duckdb.connect(str(db), read_only=True) as con:
        return [
            f"{schema}.{table}.{column}"
            for (schema, table), columns in DBT_CONTRACT.items()
            for column in columns
            if not _has_column(con, schema, table, column)
        ]


def add_contract_tables(db: Path) -> Path:
    """Add what the other parts of the pipeline make to a dbt-built `db`, each by the
    product's own code: the CLV model's tables (predictions/step.py), the dynamic segment
    members (segments/evaluate.py on a real definition), the load manifest and quarantine
    (the real ingest of a Shopify export with a bad row, and of a file it cannot read). The
    dbt marts contract is checked, never filled in.
    """
    missing = missing_contract(db)
    assert not missing, f"the dbt build lacks contract columns: {', '.join(missing)}"
    from pipelines.defs.ingest.loader import load_source
    from pipelines.defs.ingest.spec import IngestError
    from pipelines.defs.segments.catalogue import load_catalogue
    from pipelines.defs.segments.dynamic import parse_definition
    from pipelines.defs.segments.evaluate import evaluate_segments

    definition = parse_definition(
        DYNAMIC_DEFINITION, Path(f"{DYNAMIC_SEGMENT}.yml"), load_catalogue()
    )
    from pipelines.defs.predictions.step import run_step

    with duckdb.connect(str(db)) as con:
        run_step(con)  # the CLV model step: customer_predictions, clv_model_fits, holdout
        evaluate_segments(con, [definition])
    landing = db.parent / "landing"
    (landing / "shopify").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SHOPIFY_FIXTURE, landing / "shopify" / "s.csv")
    (landing / "shopify" / "broken.csv").write_text("no,header,row\n1,2,3\n", encoding="utf-8")
    try:
        load_source(
            "shopify",
            landing,
            db,
            now=INGEST_NOW,
            start_date=date(2020, 1, 1),
            reporting_currency="USD",
        )
    except IngestError as exc:  # broken.csv is recorded `failed`; s.csv is loaded
        assert "shopify/broken.csv" in str(exc) and "s.csv:" not in str(exc)
    else:
        raise AssertionError("the ingest of shopify/broken.csv should have failed")
    return db
