"""The bad-input corpus (tests/fixtures/bad/, described in its cases.yml) against ingestion.

Each case is a small landing zone of broken files. For every file the corpus says what must
happen: a clear error that names the file (and nothing of it loaded), or its bad rows in
quarantine with their reason codes and its good rows in raw. Either way nothing is lost: the
manifest's `rows_in_file = rows_loaded + rows_quarantined + rows_waiting` holds, the tables
agree with the manifest, and the blocking reconciliation check finds nothing wrong.

The last test runs the real `refresh` job: an unreadable file fails its ingest, and the run
publishes nothing, so BI keeps reading the last good file byte for byte.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
import yaml

from pipelines.defs.ingest import share
from pipelines.defs.ingest.loader import FileResult, get_spec, load_source
from pipelines.defs.ingest.spec import IngestError
from pipelines.defs.quality.reconciliation import file_row_mismatches
from pipelines.settings import DEFAULT_MAX_QUARANTINE_SHARE
from tests.helpers import sha256

CORPUS = Path(__file__).resolve().parent / "fixtures" / "bad"
CASES: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yml").read_text("utf-8"))
NOW = datetime(2026, 11, 22, 3, 0)  # the run's clock: later dates are `future_date`
START = date(2020, 1, 1)


@dataclass
class CaseRun:
    """One case loaded into a fresh build database, source by source; read through one
    read-only connection (opened after the loads, closed by `close`)."""

    landing: Path
    db: Path
    files: dict[str, FileResult] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # source → IngestError text
    con: duckdb.DuckDBPyConnection | None = None

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        if self.con is None:
            self.con = duckdb.connect(str(self.db), read_only=True)
        return self.con.execute(sql, params or []).fetchall()

    def manifest(self, path: str) -> dict[str, Any] | None:
        self.query("SELECT 1")
        assert self.con is not None
        cur = self.con.execute("SELECT * FROM meta.load_manifest WHERE file_path = ?", [path])
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row, strict=True)) if row else None

    def close(self) -> None:
        if self.con is not None:
            self.con.close()


def sources_of(case_dir: Path) -> list[str]:
    return sorted(p.name for p in case_dir.iterdir() if p.is_dir())


def load_case(case: str, root: Path) -> CaseRun:
    """Copy the case into a landing zone and load every source in it, over all days."""
    landing = root / "landing"
    shutil.copytree(CORPUS / case, landing)
    run = CaseRun(landing, root / "build.duckdb")
    for source in sources_of(landing):
        try:
            result = load_source(
                source, landing, run.db,
                now=NOW, start_date=START, reporting_currency="USD",
            )  # fmt: skip
        except IngestError as exc:
            run.errors[source] = str(exc)
            result = exc.result
        if result is not None:
            run.files |= {f.path: f for f in result.files}
    return run


def rows_of(run: CaseRun, schema: str, source: str, path: str) -> int:
    table = get_spec(source).table if schema == "raw" else source
    if not run.query(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ):
        return 0
    return run.query(f"SELECT count(*) FROM {schema}.{table} WHERE _source_file = ?", [path])[0][0]


def names(message: str, path: str) -> bool:
    """The message names the file, or the folder it is in (generic/<name>/ without a
    mapping.yml fails as a folder: every file of it for the same reason)."""
    parent = path.rpartition("/")[0] + "/"
    return path in message or (parent.count("/") > 1 and parent in message)


def assert_failed_file(run: CaseRun, source: str, path: str, substrings: list[str]) -> None:
    message = run.errors.get(source)
    assert message is not None, f"{path}: expected the {source} load to fail"
    assert names(message, path), f"the error does not name {path}: {message}"
    for text in substrings:
        assert text in message, f"{path}: {text!r} missing from the error:\n{message}"
    assert "Fix or remove" in message  # the error says what to do
    manifest = run.manifest(path)
    assert manifest is not None and manifest["status"] == "failed", manifest
    assert manifest["error"] and names(manifest["error"], path)
    assert rows_of(run, "raw", source, path) == rows_of(run, "quarantine", source, path) == 0


def assert_read_file(run: CaseRun, source: str, path: str, expected: dict[str, Any]) -> None:
    quarantined: dict[str, int] = expected.get("quarantined", {})
    manifest = run.manifest(path)
    assert manifest is not None and manifest["status"] == "loaded", manifest
    # Nothing lost: every record counted by hand is in raw or quarantine, and the manifest,
    # the tables and the corpus agree.
    assert manifest["rows_in_file"] == expected["rows"]
    assert manifest["rows_loaded"] == expected["loaded"] == rows_of(run, "raw", source, path)
    assert manifest["rows_quarantined"] == sum(quarantined.values())
    assert manifest["rows_quarantined"] == rows_of(run, "quarantine", source, path)
    assert manifest["rows_waiting"] == 0  # loaded over all days
    assert manifest["rows_in_file"] == manifest["rows_loaded"] + manifest["rows_quarantined"]
    if quarantined or rows_of(run, "quarantine", source, path):
        rows = run.query(
            f"SELECT reason_code, reason_detail, raw_record, _source_line FROM quarantine.{source} "
            "WHERE _source_file = ? ORDER BY _source_line",
            [path],
        )
        assert Counter(r[0] for r in rows) == Counter(quarantined)
        for code, detail, raw_record, line in rows:
            assert detail and raw_record and line, f"{path} line {line}: {code} lacks context"
        for text in expected.get("raw_record_contains", []):
            assert any(text in r[2] for r in rows), f"{text!r} lost from {path}'s quarantine"
        for text in expected.get("reason_detail_contains", []):
            assert any(text in r[1] for r in rows), f"{text!r} not in {[r[1] for r in rows]}"
    for column, value in expected.get("raw_values", {}).items():
        table = get_spec(source).table
        found = {
            r[0]
            for r in run.query(f"SELECT {column} FROM raw.{table} WHERE _source_file = ?", [path])
        }
        assert value in found, f"{path}: raw.{table}.{column} holds {found}, not {value!r}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_rejected_clearly_or_quarantined_and_nothing_is_lost(
    case: str, tmp_path: Path
) -> None:
    run = load_case(case, tmp_path)
    try:
        check_case(run, CASES[case]["files"])
    finally:
        run.close()


def check_case(run: CaseRun, expected_files: dict[str, dict[str, Any]]) -> None:
    """Every file's outcome as cases.yml says, and the reconciliation check finds nothing."""
    for path, expected in expected_files.items():
        source = path.split("/")[0]
        if "error" in expected:
            assert_failed_file(run, source, path, expected["error"])
        elif expected.get("not_ready"):
            assert run.files[path].status == "not_ready"
            assert run.manifest(path) is None  # not recorded: the next run picks it up
        elif "duplicate_of" in expected:
            manifest = run.manifest(path)
            assert manifest is not None
            assert manifest["status"] == f"duplicate_of:{expected['duplicate_of']}"
            assert rows_of(run, "raw", source, path) == rows_of(run, "quarantine", source, path)
            assert rows_of(run, "raw", source, path) == 0
        else:
            assert_read_file(run, source, path, expected)

    failing_sources = {p.split("/")[0] for p, e in expected_files.items() if "error" in e}
    assert set(run.errors) == failing_sources, run.errors
    # The blocking reconciliation check of the real pipeline agrees.
    for source in sources_of(run.landing):
        if not any(f.startswith(f"{source}/") for f in run.files) and source not in run.errors:
            continue  # nothing ready in it: no table was created
        run.query("SELECT 1")
        assert run.con is not None
        table = get_spec(source).table
        _, mismatches = file_row_mismatches(run.con, table, source)
        assert mismatches == [], mismatches
        # The quarantine-share stop (issue 12) leaves every case's outcome as it is: the
        # corpus files are tiny (at most 7 rows), under share.MIN_ROWS.
        quarantine = f"quarantine.{get_spec(source).quarantine}"
        assert share.heavy_files(run.con, source, quarantine, DEFAULT_MAX_QUARANTINE_SHARE) == []


def test_without_the_small_file_exemption_corpus_files_would_stop_the_run(tmp_path: Path) -> None:
    # What keeps the cases above passing is the exemption of small files, not the reasons:
    # 2 of 3 lines of date_in_another_format are invalid_timestamp (67% > 20%).
    run = load_case("date_in_another_format", tmp_path)
    try:
        run.query("SELECT 1")
        heavy = share.heavy_files(run.con, "shopify", "quarantine.shopify", 0.20, min_rows=1)
    finally:
        run.close()
    assert [(f.path, f.rows_in_file, f.quarantined) for f in heavy] == [
        ("shopify/orders.csv", 3, 2)
    ]


def test_corpus_has_every_case_described_and_at_least_25_of_them() -> None:
    folders = {p.name for p in CORPUS.iterdir() if p.is_dir()}
    assert folders == set(CASES)
    assert len(CASES) >= 25
    for case, spec in CASES.items():
        landed = {
            p.relative_to(CORPUS / case).as_posix()
            for p in (CORPUS / case).rglob("*")
            if p.is_file()
        }
        assert landed == set(spec["files"]), f"{case}: cases.yml and the folder disagree"


def test_zero_byte_file_is_loaded_once_it_has_content(tmp_path: Path) -> None:
    run = load_case("zero_byte_file_being_written", tmp_path)
    assert run.files["shopify/orders.csv"].status == "not_ready"

    finished = CORPUS / "utf8_bom_csv" / "shopify" / "orders.csv"
    shutil.copyfile(finished, run.landing / "shopify" / "orders.csv")
    result = load_source(
        "shopify", run.landing, run.db,
        now=NOW, start_date=START, reporting_currency="USD",
    )  # fmt: skip

    assert [(f.status, f.rows_loaded) for f in result.files] == [("loaded", 2)]


# --- through the real job ----------------------------------------------------------------

PUBLISHED = dg.AssetKey(["published", "segments_db"])


def last_good_publish(path: Path) -> None:
    """A stand-in for yesterday's published file: what BI reads until a run succeeds."""
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE customer_segments AS SELECT 'c1' AS customer_key, 'Lost' AS s")


def test_unreadable_file_fails_the_run_and_the_published_file_is_untouched(
    segments_env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from pipelines.cli import execute_refresh

    shopify = segments_env["landing"] / "shopify"
    shopify.mkdir()
    shutil.copy(CORPUS / "one_bad_file_among_good" / "shopify" / "orders_good.csv", shopify)
    shutil.copy(CORPUS / "xlsx_renamed_csv" / "shopify" / "orders.csv", shopify)
    published = segments_env["warehouse"] / "segments.duckdb"
    last_good_publish(published)
    before = sha256(published)

    succeeded = execute_refresh(date(2024, 3, 5), date(2024, 3, 5))

    assert not succeeded
    err = capsys.readouterr().err
    assert "nothing was published" in err
    assert "step raw__shopify_orders" in err and "shopify/orders.csv: the file is a ZIP" in err
    assert "Traceback" not in err and "Stack Trace" not in err  # expected failure: no trace
    assert sha256(published) == before
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM customer_segments").fetchone() == (1,)
    instance = dg.DagsterInstance.get()
    assert instance.get_latest_materialization_event(PUBLISHED) is None
    # The good file of the same source was loaded (and waits for a run that can publish).
    with duckdb.connect(str(segments_env["warehouse"] / "build.duckdb"), read_only=True) as con:
        loaded = con.execute(
            "SELECT _source_file, count(*) FROM raw.shopify_orders GROUP BY ALL"
        ).fetchall()
    assert loaded == [("shopify/orders_good.csv", 2)]


# --- entries that are not plain files of the landing zone --------------------------------
# Symlinks, pipes and folders cannot live in the corpus folder (git keeps no FIFO, and a link
# to /etc/passwd would depend on the machine), so these cases build their entry here.

OUTSIDE_SECRET = "root-secret-line:x:0:0"  # stands in for /etc/passwd's first line


def _link_outside(path: Path, outside: Path) -> None:
    path.symlink_to(outside)


def _broken_link(path: Path, outside: Path) -> None:
    path.symlink_to(outside.parent / "no-such-file.csv")


def _fifo(path: Path, outside: Path) -> None:
    os.mkfifo(path)


def _folder(path: Path, outside: Path) -> None:
    path.mkdir()


def _unreadable(path: Path, outside: Path) -> None:
    shutil.copy(CORPUS / "utf8_bom_csv" / "shopify" / "orders.csv", path)
    path.chmod(0)


SPECIAL_ENTRIES = {
    "symlink_outside_landing_zone": (_link_outside, "a symbolic link to a place outside"),
    "broken_symlink": (_broken_link, "a symbolic link to nothing"),
    "fifo": (_fifo, "a named pipe (FIFO), not a regular file"),
    "folder_named_like_a_file": (_folder, "a folder named like a data file"),
    "no_read_permission": (_unreadable, "no read permission"),
}


@pytest.mark.timeout(60)  # a FIFO opened for reading would block forever
@pytest.mark.parametrize("kind", sorted(SPECIAL_ENTRIES))
def test_entry_that_is_not_a_plain_file_fails_its_source_in_one_line_without_its_content(
    kind: str, tmp_path: Path
) -> None:
    make, expected = SPECIAL_ENTRIES[kind]
    if kind == "no_read_permission" and os.geteuid() == 0:
        pytest.skip("root reads any file: run the suite as a normal user to check this")
    outside = tmp_path / "outside.csv"
    outside.write_text(f"{OUTSIDE_SECRET}\n{OUTSIDE_SECRET}\n")
    landing = tmp_path / "landing"
    (landing / "shopify").mkdir(parents=True)
    shutil.copy(
        CORPUS / "one_bad_file_among_good" / "shopify" / "orders_good.csv", landing / "shopify"
    )
    make(landing / "shopify" / "orders.csv", outside)
    db = tmp_path / "build.duckdb"

    with pytest.raises(IngestError) as caught:
        load_source("shopify", landing, db, now=NOW, start_date=START, reporting_currency="USD")

    message = str(caught.value)
    line = caught.value.failures["shopify/orders.csv"]
    assert "\n" not in line and line.startswith("shopify/orders.csv: ") and expected in line
    assert OUTSIDE_SECRET not in message and "Fix or remove" in message
    run = CaseRun(landing, db)
    try:
        manifest = run.manifest("shopify/orders.csv")
        assert manifest is not None and manifest["status"] == "failed"
        assert manifest["error"] == line
        assert rows_of(run, "raw", "shopify", "shopify/orders.csv") == 0
        assert rows_of(run, "quarantine", "shopify", "shopify/orders.csv") == 0
        assert rows_of(run, "raw", "shopify", "shopify/orders_good.csv") == 2  # the rest loads
    finally:
        run.close()


def test_absurd_header_fails_its_file_in_seconds(tmp_path: Path) -> None:
    # Regression: a 1.2 MB header with 50,000 columns took 97 s and 6.5 GB.
    landing = tmp_path / "landing"
    (landing / "support").mkdir(parents=True)
    header = ",".join(f"column_{i:017d}" for i in range(50_000))
    (landing / "support" / "tickets.csv").write_text(header + "\n" + "x," * 49_999 + "x\n")
    started = time.perf_counter()
    with pytest.raises(IngestError) as caught:
        load_source(
            "support", landing, tmp_path / "build.duckdb",
            now=NOW, start_date=START, reporting_currency="USD",
        )  # fmt: skip
    assert time.perf_counter() - started < 10
    assert caught.value.failures["support/tickets.csv"].startswith(
        "support/tickets.csv: the header line is longer than 65,536 bytes (MAX_HEADER_BYTES"
    )


def test_a_reload_that_drops_most_rows_fails_the_run_until_allowed(
    segments_env: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Regression: a loaded file rewritten as header-only silently removed its rows from raw
    # and from the published data. Each run here also holds an unreadable file, so it stops
    # after ingest (no dbt): what matters is what ingest did and said through the real job.
    from pipelines.cli import execute_refresh

    shopify = segments_env["landing"] / "shopify"
    shopify.mkdir()
    good = shopify / "orders_good.csv"
    shutil.copy(CORPUS / "one_bad_file_among_good" / "shopify" / "orders_good.csv", good)
    broken = CORPUS / "xlsx_renamed_csv" / "shopify" / "orders.csv"
    shutil.copy(broken, shopify)
    published = segments_env["warehouse"] / "segments.duckdb"
    last_good_publish(published)
    before = sha256(published)
    build = segments_env["warehouse"] / "build.duckdb"

    def loaded() -> int:
        with duckdb.connect(str(build), read_only=True) as con:
            query = "SELECT count(*) FROM raw.shopify_orders WHERE _source_file = ?"
            return con.execute(query, ["shopify/orders_good.csv"]).fetchone()[0]

    with pytest.raises(IngestError):  # yesterday's run: the good file loads, the xlsx fails
        load_source("shopify", segments_env["landing"], build, start_date=START)
    assert loaded() == 2
    good.write_text(good.read_text().splitlines(keepends=True)[0])  # header only
    capsys.readouterr()

    assert not execute_refresh(date(2024, 3, 5), date(2024, 3, 5))
    err = capsys.readouterr().err
    assert (
        "shopify/orders_good.csv: changed, and its new version would leave 0 of the 2 rows" in err
    )
    assert "--allow-shrink" in err
    assert loaded() == 2 and sha256(published) == before

    monkeypatch.setenv("SEGMENTS_ALLOW_SHRINKING_RELOAD", "true")  # what --allow-shrink sets
    assert not execute_refresh(date(2024, 3, 5), date(2024, 3, 5))  # the xlsx still fails
    assert "orders_good.csv: changed" not in capsys.readouterr().err
    assert loaded() == 0 and sha256(published) == before


def test_allow_shrink_flag_sets_the_setting_for_this_process(
    segments_env: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines import settings
    from pipelines.cli import _allow_shrink, build_parser

    monkeypatch.delenv("SEGMENTS_ALLOW_SHRINKING_RELOAD", raising=False)
    assert settings.load().allow_shrinking_reload is False
    _allow_shrink(build_parser().parse_args(["run"]))
    assert settings.load().allow_shrinking_reload is False
    _allow_shrink(build_parser().parse_args(["run", "--allow-shrink"]))
    assert settings.load().allow_shrinking_reload is True
    monkeypatch.delenv("SEGMENTS_ALLOW_SHRINKING_RELOAD")


def test_a_source_folder_may_be_a_link_but_nothing_in_it_may_point_out(tmp_path: Path) -> None:
    drop = tmp_path / "sftp" / "shopify"  # e.g. an SFTP drop folder linked as the source folder
    drop.mkdir(parents=True)
    shutil.copy(CORPUS / "one_bad_file_among_good" / "shopify" / "orders_good.csv", drop)
    secret = tmp_path / "elsewhere.csv"
    secret.write_text(f"{OUTSIDE_SECRET}\n")
    (drop / "orders_link.csv").symlink_to(secret)
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "shopify").symlink_to(drop)
    db = tmp_path / "build.duckdb"

    with pytest.raises(IngestError) as caught:
        load_source("shopify", landing, db, now=NOW, start_date=START, reporting_currency="USD")

    assert list(caught.value.failures) == ["shopify/orders_link.csv"]
    assert OUTSIDE_SECRET not in str(caught.value)
    run = CaseRun(landing, db)
    try:
        assert rows_of(run, "raw", "shopify", "shopify/orders_good.csv") == 2
    finally:
        run.close()
