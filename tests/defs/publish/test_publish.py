"""Publishing the DuckDB file and its Parquet copy: atomic, as a set, nothing half-written."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.publish.audited import publish_audited
from pipelines.defs.publish.parquet import HISTORY_KEYS, MANIFEST_NAME, reader_path, refresh_parquet
from pipelines.defs.publish.publish import (
    PUBLISHED_TABLES,
    STORAGE_VERSION,
    PublishedTable,
    PublishError,
    publish,
)
from pipelines.defs.publish.versioned_dir import (
    CURRENT,
    STAGING_PREFIX,
    current_version,
    prune,
    staged_version,
)


def test_parquet_set_holds_every_published_table_with_the_same_rows(
    full_build: Path, tmp_path: Path
):
    result = publish(full_build, tmp_path / "segments.duckdb", parquet_dir=tmp_path / "parquet")
    folder = tmp_path / "parquet" / CURRENT
    assert folder.resolve() == result.parquet_dir
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    assert set(manifest["tables"]) == set(result.row_counts)
    with duckdb.connect() as con:
        for table, rows in result.row_counts.items():
            n = con.execute(
                f"select count(*) from read_parquet('{reader_path(folder, table)}')"
            ).fetchone()[0]
            assert n == rows == manifest["tables"][table]["rows"], table
        # A history table is a folder of files (each a set of as-of dates); read back, it has
        # the published rows, columns in the published order and types.
        assert (folder / "segment_snapshots").is_dir()
        assert not (folder / "segment_snapshots.parquet").exists()
        con.execute(f"attach '{result.path}' as pub (read_only)")
        for table in HISTORY_KEYS:
            if table not in result.row_counts or not result.row_counts[table]:
                continue
            columns = [r[0] for r in con.execute(f"describe pub.{table}").fetchall()]
            cols = ", ".join(columns)
            differ = con.execute(
                f"select count(*) from ((select {cols} from pub.{table} except all "
                f"select {cols} from read_parquet('{reader_path(folder, table)}')) union all "
                f"(select {cols} from read_parquet('{reader_path(folder, table)}') except all "
                f"select {cols} from pub.{table}))"
            ).fetchone()[0]
            assert differ == 0, table
        snapshot_types = dict(
            con.execute(
                "select column_name, column_type from (describe select * from "
                f"read_parquet('{reader_path(folder, 'segment_snapshots')}'))"
            ).fetchall()
        )
        assert snapshot_types["as_of_date"] == "DATE"
        published = con.execute("describe pub.segment_snapshots").fetchall()
        assert list(snapshot_types.items()) == [(r[0], r[1]) for r in published]
        # Types survive: money stays DECIMAL, dates stay DATE.
        types = dict(
            con.execute(
                f"select column_name, column_type from (describe select * from "
                f"read_parquet('{folder}/customer_segments.parquet'))"
            ).fetchall()
        )
    assert types["monetary"].startswith("DECIMAL") and types["as_of_date"] == "DATE"


def test_full_build_publishes_the_history_and_dynamic_tables(full_build: Path, tmp_path: Path):
    result = publish(full_build, tmp_path / "segments.duckdb")
    assert result.skipped == ()
    for name in (
        "segment_snapshots",
        "segment_transitions",
        "segment_profiles",
        "dynamic_segment_members",
    ):
        assert result.row_counts[name] > 0, name


def test_missing_required_table_changes_nothing(dbt_build: Path, tmp_path: Path):
    target, parquet = tmp_path / "segments.duckdb", tmp_path / "parquet"
    first = publish(dbt_build, target, parquet_dir=parquet)
    before = (target.stat().st_ino, target.read_bytes(), first.parquet_dir)
    broken = (*PUBLISHED_TABLES, PublishedTable("x", "marts.not_built", "missing"))
    with pytest.raises(PublishError, match=r"has no marts.not_built.*segments run"):
        publish(dbt_build, target, broken, parquet_dir=parquet)
    assert (target.stat().st_ino, target.read_bytes(), current_version(parquet)) == before
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    leftovers += [p.name for p in parquet.iterdir() if p.name.startswith(STAGING_PREFIX)]
    assert leftovers == []


def test_a_reader_with_the_old_file_open_keeps_its_view(dbt_build: Path, tmp_path: Path):
    target = tmp_path / "segments.duckdb"
    publish(dbt_build, target)
    with duckdb.connect(str(target), read_only=True) as reader:
        before = reader.execute("select count(*) from customer_segments").fetchone()[0]
        old_inode = target.stat().st_ino
        publish(dbt_build, target)
        assert target.stat().st_ino != old_inode  # a new file was swapped in
        assert reader.execute("select count(*) from customer_segments").fetchone()[0] == before


def test_staged_version_swaps_current_only_when_the_block_succeeds(tmp_path: Path):
    with staged_version(tmp_path) as staging:
        (staging / "a.txt").write_text("one")
    first = current_version(tmp_path)
    with pytest.raises(RuntimeError, match="boom"):
        with staged_version(tmp_path) as staging:
            (staging / "a.txt").write_text("two")
            raise RuntimeError("boom")
    assert current_version(tmp_path) == first
    assert (tmp_path / CURRENT / "a.txt").read_text() == "one"
    assert [p for p in tmp_path.iterdir() if p.name.startswith(STAGING_PREFIX)] == []


def test_a_reader_that_resolved_current_keeps_a_complete_set(tmp_path: Path):
    with staged_version(tmp_path) as staging:
        (staging / "a.txt").write_text("v1")
        (staging / "b.txt").write_text("v1")
    resolved = current_version(tmp_path)  # a reader resolves once ...
    assert resolved is not None
    with staged_version(tmp_path) as staging:  # ... a publish lands meanwhile ...
        (staging / "a.txt").write_text("v2")
        (staging / "b.txt").write_text("v2")
    # ... and the reader still reads one publish, not a mix.
    assert {(resolved / n).read_text() for n in ("a.txt", "b.txt")} == {"v1"}
    assert (tmp_path / CURRENT / "b.txt").read_text() == "v2"


def test_prune_keeps_the_current_and_previous_versions(tmp_path: Path):
    for i in range(4):
        with staged_version(tmp_path) as staging:
            (staging / "n.txt").write_text(str(i))
    (tmp_path / "vip_lists").mkdir()  # a user's folder beside the versions: never touched
    versions = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("v2"))
    assert len(versions) == 2 and (tmp_path / "vip_lists").exists()
    assert (tmp_path / CURRENT / "n.txt").read_text() == "3"
    # Stale staging debris of a crashed run is removed; a fresh one (a run in progress) is not.
    stale, fresh = tmp_path / f"{STAGING_PREFIX}old", tmp_path / f"{STAGING_PREFIX}new"
    stale.mkdir()
    fresh.mkdir()
    os.utime(stale, (time.time() - 7 * 3600,) * 2)
    prune(tmp_path)
    assert not stale.exists() and fresh.exists()


def test_a_real_folder_where_current_should_be_is_a_clear_error(tmp_path: Path):
    (tmp_path / CURRENT).mkdir()
    with pytest.raises(RuntimeError, match="not the symlink"):
        with staged_version(tmp_path) as staging:
            (staging / "a.txt").write_text("x")


def _tables(path: Path) -> dict[str, list]:
    with duckdb.connect(str(path), read_only=True) as con:
        names = [r[0] for r in con.execute("show tables").fetchall()]
        return {n: sorted(con.execute(f'select * from "{n}"').fetchall(), key=str) for n in names}


def test_incremental_publish_rewrites_only_what_changed(full_build: Path, tmp_path: Path):
    build = tmp_path / "build.duckdb"
    shutil.copy(full_build, build)
    target = tmp_path / "segments.duckdb"
    first = publish(build, target)
    assert first.mode == "full" and set(first.changes.values()) == {"new"}

    again = publish(build, target)
    assert again.mode == "incremental" and set(again.changes.values()) == {"unchanged"}

    # A daily run: one more as-of date in the history, today's segments replaced.
    with duckdb.connect(str(build)) as con:
        day = con.execute("select max(as_of_date) from marts.segment_snapshots").fetchone()[0]
        con.execute(
            "insert into marts.segment_snapshots by name select * replace "
            "(as_of_date + 1 as as_of_date) from marts.segment_snapshots where as_of_date = ?",
            [day],
        )
        con.execute("update marts.customer_segments set recency_days = recency_days + 1")
    daily = publish(build, target)

    assert daily.mode == "incremental"
    assert daily.changes["customer_segments"] == "replaced"
    assert daily.changes["segment_snapshots"].startswith("1 of ")
    assert daily.changes["rfm_score_cutoffs"] == "unchanged"
    # The incremental file equals a fresh publish of the same build, table for table.
    fresh = publish(build, tmp_path / "fresh.duckdb", incremental=False)
    assert fresh.mode == "full"
    assert _tables(target) == _tables(fresh.path)
    # ... and stays readable by DuckDB 1.0+ (the copy keeps the v1.0 storage format).
    with duckdb.connect(str(target), read_only=True) as con:
        tags = con.execute(
            "select tags from duckdb_databases() where database_name = current_database()"
        ).fetchone()[0]
    assert tags["storage_version"].startswith(STORAGE_VERSION)


def test_tables_with_their_own_column_order_are_unchanged_on_a_rerun(
    full_build: Path, tmp_path: Path
):
    """Tables whose column list is not the source's order (customer_contacts; audited.duckdb's
    dim_customers and quarantine counts) are left alone when nothing changed, not rewritten
    on every publish."""
    target, audited = tmp_path / "segments.duckdb", tmp_path / "audited.duckdb"
    publish(full_build, target, include_pii=True)
    first = publish_audited(full_build, audited)
    assert {"dim_customers", "customer_source_ids", "shopify"} <= set(first.changes)

    again = publish(full_build, target, include_pii=True)
    again_audited = publish_audited(full_build, audited)

    assert again.changes["customer_contacts"] == "unchanged"
    assert set(again.changes.values()) == {"unchanged"}
    assert set(again_audited.changes.values()) == {"unchanged"}


def _dates(path: Path, table: str) -> dict:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            d: sorted(con.execute(f"select * from {table} where as_of_date = ?", [d]).fetchall())
            for (d,) in con.execute(f"select distinct as_of_date from {table}").fetchall()
        }


def test_audited_history_keeps_the_dates_the_snapshot_history_has(full_build: Path, tmp_path: Path):
    """customer_facts and rfm_scores hold only the latest run's dates in the build (as_of_table);
    audited.duckdb keeps the earlier dates while segment_snapshots has them, so an export of
    an earlier as-of date still has that date's facts after a daily run."""
    build, audited = tmp_path / "build.duckdb", tmp_path / "audited.duckdb"
    shutil.copy(full_build, build)
    publish_audited(build, audited)
    first = _dates(audited, "marts.customer_facts")
    assert len(first) == 8

    with duckdb.connect(str(build)) as con:  # a daily run: one new as-of date
        day = con.execute("select max(as_of_date) from marts.segment_snapshots").fetchone()[0]
        for table in ("customer_facts", "rfm_scores"):
            con.execute(
                f"create or replace table marts.{table} as select * replace "
                f"(as_of_date + 1 as as_of_date) from marts.{table} where as_of_date = ?",
                [day],
            )
        con.execute(
            "insert into marts.segment_snapshots by name select * replace "
            "(as_of_date + 1 as as_of_date) from marts.segment_snapshots where as_of_date = ?",
            [day],
        )
    daily = publish_audited(build, audited)

    assert daily.changes["customer_facts"] == "1 of 9 as_of_date values written"
    facts = _dates(audited, "marts.customer_facts")
    assert len(facts) == 9 and {d: facts[d] for d in first} == first
    # every family's label of an earlier date is in the BI file's segment_snapshots: no second
    # copy of the RFM history in audited.duckdb (it was 0.7 GB at 10M, copied every publish)
    with duckdb.connect(str(audited), read_only=True) as con:
        assert not con.execute(
            "select count(*) from duckdb_tables() where table_name = 'rfm_segments'"
        ).fetchone()[0]
    # written fresh (no copy of the previous file), the kept dates come from the previous file
    fresh = publish_audited(build, audited, incremental=False)
    assert fresh.mode == "full" and _dates(audited, "marts.customer_facts") == facts
    assert set(publish_audited(build, audited).changes.values()) == {"unchanged"}

    # a date gone from the snapshot history goes from the facts too
    oldest = min(first)
    with duckdb.connect(str(build)) as con:
        con.execute("delete from marts.segment_snapshots where as_of_date = ?", [oldest])
    publish_audited(build, audited)
    assert set(_dates(audited, "marts.customer_facts")) == set(facts) - {oldest}


def test_a_publish_hashes_only_the_dates_the_build_wrote_since_the_last(
    full_build: Path, tmp_path: Path
):
    """The snapshot history's dates keep their stored fingerprints while dbt's write log
    (meta.as_of_dates_written) gives them the id the last publish saw: a date is hashed
    again, and rewritten, only when dbt wrote it since. The stored fingerprints are those a
    publish computing every date from scratch stores."""
    build = tmp_path / "build.duckdb"
    shutil.copy(full_build, build)
    target = tmp_path / "segments.duckdb"
    first = publish(build, target)
    log = _pairs(
        build,
        "select as_of_date::varchar, written_in from meta.as_of_dates_written "
        "where relation = 'marts.segment_snapshots'",
    )
    dates = _dates(target, "main.segment_snapshots")
    assert len(dates) > 1 and set(log) == {str(d) for d in dates}
    stored = _pairs(
        target,
        "select slice, written_in from _publish.slice_versions "
        "where table_name = 'segment_snapshots'",
    )
    assert stored == log and first.changes["segment_snapshots"] == "new"

    oldest, latest = min(dates), max(dates)
    with duckdb.connect(str(build)) as con:
        # rows changed behind dbt's back (no log entry) stay unseen: proof nothing was hashed
        con.execute(
            "update marts.segment_snapshots set rfm_segment = 'x' where as_of_date = ?",
            [oldest],
        )
    assert publish(build, target).changes["segment_snapshots"] == "unchanged"

    with duckdb.connect(str(build)) as con:
        # what dbt does when it writes a date: new rows and a new id in the log
        con.execute(
            "update marts.segment_snapshots set rfm_segment = 'y' where as_of_date = ?", [latest]
        )
        con.execute(
            "update meta.as_of_dates_written set written_in = 'a new write' "
            "where relation = 'marts.segment_snapshots' and as_of_date = ?",
            [latest],
        )
    daily = publish(build, target)
    assert daily.changes["segment_snapshots"] == f"1 of {len(dates)} as_of_date values written"
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute(
            "select count(*) from segment_snapshots where rfm_segment = 'y'"
        ).fetchone()[0] == len(dates[latest])

    # a build without the log (older, or made again) has every date hashed: the oldest
    # date's change is found, and the fingerprints are those of a publish from scratch
    with duckdb.connect(str(build)) as con:
        con.execute("drop table meta.as_of_dates_written")
    assert publish(build, target).changes["segment_snapshots"] == (
        f"1 of {len(dates)} as_of_date values written"
    )
    alone = publish(build, tmp_path / "alone" / "segments.duckdb")
    assert _fingerprints(target) == _fingerprints(alone.path)


def _pairs(path: Path, sql: str) -> dict:
    """{first column: second column} of a two-column query on the database at `path`."""
    with duckdb.connect(str(path), read_only=True) as con:
        return dict(con.execute(sql).fetchall())


def _fingerprints(path: Path) -> list:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select * from _publish.fingerprints order by all").fetchall()


def test_switching_pii_off_drops_the_contacts_table(dbt_build: Path, tmp_path: Path):
    target = tmp_path / "segments.duckdb"
    assert "customer_contacts" in publish(dbt_build, target, include_pii=True).row_counts

    result = publish(dbt_build, target)

    assert result.changes["customer_contacts"] == "dropped"
    assert "customer_contacts" not in _tables(target)


def test_a_failing_incremental_publish_leaves_the_file_byte_for_byte(
    dbt_build: Path, tmp_path: Path
):
    target = tmp_path / "segments.duckdb"
    publish(dbt_build, target)
    before = (target.stat().st_ino, target.read_bytes())
    broken = (*PUBLISHED_TABLES, PublishedTable("x", "marts.not_built", "missing"))

    with pytest.raises(PublishError):
        publish(dbt_build, target, broken)

    assert (target.stat().st_ino, target.read_bytes()) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_parquet_reuses_unchanged_tables(dbt_build: Path, tmp_path: Path):
    target, parquet = tmp_path / "segments.duckdb", tmp_path / "parquet"
    publish(dbt_build, target)
    first = refresh_parquet(target, parquet)
    second = refresh_parquet(target, parquet)

    assert first.written and not first.reused
    assert not second.written and set(second.reused) == set(first.written)
    assert second.folder != first.folder
    assert second.slices_written and not any(second.slices_written.values())
    files = sorted(p.relative_to(first.folder) for p in first.folder.rglob("*.parquet"))
    assert files == sorted(p.relative_to(second.folder) for p in second.folder.rglob("*.parquet"))
    for rel in files:  # the same file, shared by both versions
        assert (second.folder / rel).samefile(first.folder / rel)


def test_a_new_as_of_date_writes_one_parquet_file_per_history_table(
    full_build: Path, tmp_path: Path
):
    # A daily run adds one as-of date to the history tables: the Parquet set writes that
    # date's files and hard-links every other date's (at 10M transactions the whole-table
    # copy of the history took 28 s a day).
    build = tmp_path / "build.duckdb"
    shutil.copy(full_build, build)
    target, parquet = tmp_path / "segments.duckdb", tmp_path / "parquet"
    with duckdb.connect(str(build)) as con:
        latest = con.execute("select max(as_of_date) from marts.segment_snapshots").fetchone()[0]
        dates = con.execute(
            "select count(distinct as_of_date) from marts.segment_snapshots"
        ).fetchone()[0]
        # the build as it was the day before: without its latest date
        con.execute(
            "create table _held as select * from marts.segment_snapshots where as_of_date = ?",
            [latest],
        )
        con.execute("delete from marts.segment_snapshots where as_of_date = ?", [latest])
    assert dates >= 3
    first = publish(build, target, parquet_dir=parquet)
    with duckdb.connect(str(build)) as con:
        con.execute("insert into marts.segment_snapshots select * from _held")
        con.execute("drop table _held")
    second = publish(build, target, parquet_dir=parquet)

    assert second.changes["segment_snapshots"].startswith("1 of ")
    old = json.loads((first.parquet_dir / MANIFEST_NAME).read_text())["tables"]
    new = json.loads((second.parquet_dir / MANIFEST_NAME).read_text())["tables"]
    assert len(new["segment_snapshots"]["slices"]) == dates
    files = {f["file"]: f for f in new["segment_snapshots"]["files"]}
    kept = [f["file"] for f in old["segment_snapshots"]["files"]]
    assert set(files) - set(kept) and set(kept) <= set(files)
    for rel in kept:  # yesterday's files, shared with the previous version
        assert (second.parquet_dir / rel).samefile(first.parquet_dir / rel)
    (added,) = set(files) - set(kept)
    assert files[added]["slices"] == [latest.isoformat()]
    for table in ("segment_profiles", "rfm_score_cutoffs"):  # unchanged: linked whole
        assert table in set(new) and new[table]["files"] == old[table]["files"]
    snapshots = reader_path(second.parquet_dir, "segment_snapshots")
    with duckdb.connect() as con:
        rows = con.execute(
            f"select count(*) from read_parquet('{snapshots}') where as_of_date = ?",
            [latest],
        ).fetchone()[0]
    assert rows == files[added]["rows"] > 0


def test_readers_of_the_published_file_have_the_memory_limit_and_spill_folder(
    dbt_build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # The exports and the report read through open_audited; at 30M a plain in-memory session
    # took 11.7 GiB. Like every pipeline connection it now has the limit and a spill folder.
    from pipelines.defs.publish.audited import open_audited

    monkeypatch.setenv("SEGMENTS_DUCKDB_MEMORY_LIMIT", "1GB")
    monkeypatch.delenv("SEGMENTS_DUCKDB_TEMP_DIR", raising=False)
    target = tmp_path / "segments.duckdb"
    publish(dbt_build, target)
    with open_audited(target) as con:
        limit, temp = con.execute(
            "select current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
    assert limit == "953.6 MiB"
    assert Path(temp) == tmp_path / "tmp" / "duckdb"


def _snapshot_file(path: Path, dates: list[str], bump: str | None = None) -> None:
    """A published-like file with a small segment_snapshots of `dates` (no stored
    fingerprints: the Parquet step computes them); `bump` changes that date's rows."""
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create table segment_snapshots (customer_key varchar, as_of_date date)")
        for d in dates:
            key = "changed" if d == bump else "c"
            con.execute(
                "insert into segment_snapshots select ? || i, ?::date from range(3) t(i)",
                [key, d],
            )


def test_history_files_are_reused_rewritten_and_compacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from pipelines.defs.publish import parquet as pq

    monkeypatch.setattr(pq, "MAX_FILES", 3)
    db, out = tmp_path / "segments.duckdb", tmp_path / "parquet"

    def files() -> dict[str, list[str]]:
        manifest = json.loads((current_version(out) / MANIFEST_NAME).read_text())
        return {f["file"]: f["slices"] for f in manifest["tables"]["segment_snapshots"]["files"]}

    _snapshot_file(db, ["2026-01-01", "2026-01-02"])
    assert refresh_parquet(db, out).slices_written == {"segment_snapshots": 2}
    first = files()
    _snapshot_file(db, ["2026-01-01", "2026-01-02", "2026-01-03"])
    assert refresh_parquet(db, out).slices_written == {"segment_snapshots": 1}
    second = files()
    assert set(first) < set(second) and list(second.values())[-1] == ["2026-01-03"]

    # a changed old date: its file goes, its unchanged dates are written again with it
    _snapshot_file(db, ["2026-01-01", "2026-01-02", "2026-01-03"], bump="2026-01-02")
    assert refresh_parquet(db, out).slices_written == {"segment_snapshots": 2}
    third = files()
    assert set(first).isdisjoint(third) and sorted(third.values()) == [
        ["2026-01-01", "2026-01-02"],
        ["2026-01-03"],
    ]

    # two more dates: past MAX_FILES the table is one file again
    _snapshot_file(db, ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"], "2026-01-02")
    refresh_parquet(db, out)
    _snapshot_file(db, [f"2026-01-0{i}" for i in range(1, 6)], "2026-01-02")
    assert refresh_parquet(db, out).slices_written == {"segment_snapshots": 5}
    assert list(files().values()) == [[f"2026-01-0{i}" for i in range(1, 6)]]
    with duckdb.connect() as con:
        rows = con.execute(
            f"select count(*), count(*) filter (customer_key like 'changed%') "
            f"from read_parquet('{reader_path(current_version(out), 'segment_snapshots')}')"
        ).fetchone()
    assert rows == (15, 3)
