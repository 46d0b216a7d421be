"""customer_source_ids in the published files: ids that are emails or phones follow the PII
rule (SEGMENTS_PUBLISH_PII), the other ids are always published; the exports' companion file
holds them all."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.defs.publish.audited import publish_with_audited
from pipelines.defs.publish.publish import publish


def _count(db: Path, sql: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


def _build_counts(build: Path) -> tuple[int, int]:
    """(ids that are not personal data, ids that are) in the build's dbt model."""
    with duckdb.connect(str(build), read_only=True) as con:
        return con.execute(
            "select count(*) filter (where not is_pii), count(*) filter (where is_pii) "
            "from marts.customer_source_ids"
        ).fetchone()


def test_email_and_phone_ids_stay_out_of_the_bi_file_and_parquet_by_default(
    dbt_build: Path, tmp_path: Path
):
    plain, personal = _build_counts(dbt_build)
    assert plain > 0 and personal > 0, "the fixture should have both kinds of id"

    result = publish(dbt_build, tmp_path / "segments.duckdb", parquet_dir=tmp_path / "parquet")

    assert result.row_counts["customer_source_ids"] == plain
    assert _count(result.path, "select count(*) from customer_source_ids where is_pii") == 0
    assert (
        _count(
            result.path,
            "select count(*) from customer_source_ids "
            "where source_customer_id like '%@%' or id_type in ('email', 'phone')",
        )
        == 0
    )
    parquet = tmp_path / "parquet" / "current" / "customer_source_ids.parquet"
    with duckdb.connect() as con:
        rows, pii = con.execute(
            f"select count(*), count(*) filter (where is_pii) from read_parquet('{parquet}')"
        ).fetchone()
    assert (rows, pii) == (plain, 0)


def test_pii_setting_publishes_every_id_and_switching_it_off_removes_them(
    dbt_build: Path, tmp_path: Path
):
    plain, personal = _build_counts(dbt_build)
    target = tmp_path / "segments.duckdb"

    on = publish(dbt_build, target, include_pii=True)
    assert on.row_counts["customer_source_ids"] == plain + personal

    off = publish(dbt_build, target)  # incremental: starts from the file that had them
    assert off.mode == "incremental"
    assert off.changes["customer_source_ids"] == "replaced"
    assert _count(target, "select count(*) from customer_source_ids where is_pii") == 0


def test_every_published_customer_key_is_a_customer(dbt_build: Path, tmp_path: Path):
    result = publish(dbt_build, tmp_path / "segments.duckdb")
    assert (
        _count(
            result.path,
            "select count(*) from customer_source_ids s "
            "anti join customer_segments c using (customer_key)",
        )
        == 0
    )


def test_the_exports_companion_holds_every_id(dbt_build: Path, tmp_path: Path):
    plain, personal = _build_counts(dbt_build)
    _, audited = publish_with_audited(dbt_build, tmp_path / "segments.duckdb")
    assert audited.row_counts["customer_source_ids"] == plain + personal
