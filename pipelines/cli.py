"""`segments`: the project CLI for data engineers and analysts.

    segments generate [--customers N --days D --seed S]   sample data into the landing zone
    segments run [--as-of DATE] [--allow-shrink] [--wait]  load new files, segments as of DATE
    segments backfill --from DATE --to DATE [--wait]      add or replace the history of a range
    segments status                                       last run, what it published, what failed
    segments unload PATH [--undo]                         retract a loaded file's rows
    segments quarantine [--source S --reason R --file F]  rejected rows: file, line, reason, raw
    segments export --segment NAME [--family F --as-of D] one segment's members as CSV (consenting)
    segments report                                       rebuild the HTML report
    segments bench [--transactions N]                     time it against pandas/polars/DuckDB

Runs go through the same Dagster job the schedule uses, recorded in the Dagster instance at
$DAGSTER_HOME (default `$SEGMENTS_WAREHOUSE_DIR/dagster_home`), so `make dev` shows them.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import functools
import logging
import os
import sys
import time
import uuid
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pipelines import settings as _settings

# BackfillPolicy is "beta" in Dagster 1.13; the warning repeats for every asset and buries output.
warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview)")


def _parse_date(flag: str):
    def parse(raw: str) -> date:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{flag} {raw!r}: expected a date as YYYY-MM-DD"
            ) from None

    return parse


def _yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def landing_is_empty(landing_dir: Path) -> bool:
    return not landing_dir.exists() or not any(p.is_file() for p in landing_dir.rglob("*"))


def cmd_generate(args: argparse.Namespace) -> int:
    from pipelines.generate import generate

    cfg = _settings.load()
    landing = Path(args.landing_dir or cfg.landing_dir)
    if args.if_empty and not landing_is_empty(landing):
        print(f"landing zone {landing} already has files; not generating sample data")
        return 0
    summary = generate(
        landing,
        customers=args.customers,
        days=args.days,
        seed=args.seed,
        end_date=args.end_date,
        reporting_currency=cfg.reporting_currency,
        split=args.split,
        target_transactions=args.transactions,
    )
    print(summary)
    return 0


# Dagster's documented run tags for a single run over a range of partitions.
VERBOSE_HELP = (
    "print every Dagster event (DEBUG) and dbt's node log live instead of one line per stage "
    "(they always go to the run's log file)"
)
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def execute_refresh(start: date, end: date, wait: bool = False, verbose: bool = False) -> bool:
    """One run of the refresh job for as-of dates [start, end]; True when it succeeded.

    One run at a time (pipelines/lib/runlock.py): when another run holds the warehouse this
    says so in one line and returns False, or with `wait` waits for it
    (SEGMENTS_RUN_WAIT_SECONDS, default 3600).

    The console shows one line per stage with the elapsed time (pipelines/lib/progress.py);
    every Dagster event and dbt's node log go to `$SEGMENTS_WAREHOUSE_DIR/logs/<run>.log`,
    whose path is printed first and last, and to the instance's event log (`segments status`,
    `make dev`). `verbose` prints them live instead, as before. Before, a sample run printed
    500-8,000 lines."""
    import dagster as dg

    from pipelines.lib import progress, runlock
    from pipelines.resources import DEFAULT_RUN_WAIT_SECONDS, RUN_WAIT_TAG
    from pipelines.status import failure_lines

    cfg = _settings.load()
    _settings.ensure_dagster_home(cfg)
    wait_seconds = _settings.run_wait_seconds(DEFAULT_RUN_WAIT_SECONDS) if wait else 0.0
    holder = runlock.is_held(cfg.warehouse_dir)
    if holder is not None:
        if not wait:
            print(
                f"not started: {runlock.busy_message(cfg.warehouse_dir, holder)}", file=sys.stderr
            )
            return False
        print(f"waiting (up to {wait_seconds:.0f} s) for {holder.describe()} to finish")
    from pipelines.definitions import defs
    from pipelines.defs.ingest.assets import LAYOUT_CHECKED_TAG
    from pipelines.lib.partitions import AS_OF

    first = AS_OF.start.date()
    last = AS_OF.get_last_partition_key()
    if start < first:
        raise SystemExit(
            f"--from {start} is before SEGMENTS_START_DATE={first}; "
            "set SEGMENTS_START_DATE earlier."
        )
    if last is None or end > date.fromisoformat(last):
        raise SystemExit(
            f"as-of date {end} is not over yet: the latest complete day is {last} (UTC)."
        )
    job = defs.resolve_job_def("refresh")
    instance = dg.DagsterInstance.get()
    # landing_precheck ran before this (cmd_run / cmd_backfill): the ingest steps skip it
    tags = {RUN_WAIT_TAG: str(int(wait_seconds)), LAYOUT_CHECKED_TAG: "true"}
    if start != end:
        tags |= {RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat()}
    run_id = str(uuid.uuid4())  # known before the run starts: it names the log file
    log_path = run_log_path(cfg, run_id)
    print(f"log: {log_path}")
    # The job's loggers, configured the documented way (run config `loggers`, see
    # pipelines/lib/progress.py): every event to the log file; on the console either the stage
    # lines or, with --verbose, Dagster's console logger at DEBUG as before.
    loggers: dict = {"event_file": {"config": {"path": os.fspath(log_path)}}}
    if verbose:
        # stack traces too (pipelines/lib/console.py leaves them out otherwise)
        loggers["console"] = {"config": {"log_level": "DEBUG", "tracebacks": True}}
    else:
        loggers["stage_progress"] = {}
    if not verbose or not sys.stdout.isatty():
        os.environ["DBT_USE_COLORS"] = "false"  # no ANSI codes in the log file or a pipe
    execute = functools.partial(
        job.execute_in_process,
        run_config={"loggers": loggers},
        instance=instance,
        partition_key=end.isoformat() if start == end else None,
        run_id=run_id,
        tags=tags,
        raise_on_error=False,
    )
    planned = progress.planned_per_step(defs.assets or [])
    began = time.monotonic()
    if verbose:
        result = execute()
    else:
        # dagster-dbt prints dbt's node log to stdout, libraries warn on stderr: both go to
        # the log file, next to the events; the stage lines go to the real stdout, the
        # steps' warnings to the real stderr.
        with (
            progress.showing(sys.stdout, sys.stderr, planned=planned),
            open(log_path, "a", encoding="utf-8", buffering=1) as sink,
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
        ):
            result = execute()
    took = time.monotonic() - began
    if not result.success:
        busy = _busy_failure(result.all_events)
        if busy:
            print(f"run {result.run_id} not run: {busy}", file=sys.stderr)
            return False
        published = any(
            e.asset_key == dg.AssetKey(["published", "segments_db"])
            for e in result.get_asset_materialization_events()
        )
        print(
            f"run {result.run_id} FAILED; "
            + (
                "segments.duckdb was published, a step after it failed."
                if published
                else "nothing was published (BI keeps the last good data)."
            ),
            file=sys.stderr,
        )
        for line in failure_lines(result.all_events, blocking_only=True, step_verb=""):
            if " skipped (" not in line:  # the skipped steps are in `segments status`
                print(line, file=sys.stderr)
        print(
            f"  details: `segments status`, the log {log_path}, or `make dev` and open the run "
            "in the Dagster UI.",
            file=sys.stderr,
        )
        return False
    span = start.isoformat() if start == end else f"{start} .. {end}"
    print(f"run {result.run_id} succeeded: as of {span} in {took:.0f} s; log: {log_path}")
    return True


KEEP_RUN_LOGS = 30  # newest run logs kept in $SEGMENTS_WAREHOUSE_DIR/logs


def run_log_path(cfg: _settings.Settings, run_id: str) -> Path:
    """`$SEGMENTS_WAREHOUSE_DIR/logs/<started>-<run id>.log`; older logs beyond the newest
    KEEP_RUN_LOGS are removed."""
    logs = cfg.warehouse_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for old in sorted(logs.glob("*.log"))[: -KEEP_RUN_LOGS + 1 or None]:
        old.unlink(missing_ok=True)
    started = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return logs / f"{started}-{run_id}.log"


def _busy_failure(events) -> str | None:
    """The one-line 'warehouse in use' message when the run stopped because another run held
    the warehouse (the settings resource could not take the lock), else None."""
    for ev in events:
        error = None
        if ev.is_step_failure:
            error = ev.step_failure_data.error
        elif ev.event_type_value == "PIPELINE_FAILURE" and ev.event_specific_data is not None:
            error = getattr(ev.event_specific_data, "error", None)
        for err in _error_chain(error):
            if err.message and "one run at a time" in err.message:
                return err.message.strip().splitlines()[0].split("Failure: ", 1)[-1]
    return None


def _error_chain(error):
    while error is not None:
        yield error
        error = error.cause


def _consent_notes(cfg: _settings.Settings) -> list[str]:
    """The exports' notes on sources without consent data: from the `consent.csv` the export
    set of the last publish wrote (written after that publish), else counted again from the
    published files (1.3 s at 10M transactions)."""
    import csv

    from pipelines.defs.publish.consent import published_notes
    from pipelines.defs.publish.exports import CONSENT_NAME

    written = cfg.exports_dir / "current" / CONSENT_NAME
    try:
        if written.stat().st_mtime >= cfg.published_db.stat().st_mtime:
            with written.open(newline="", encoding="utf-8") as fh:
                return [row["note"] for row in csv.DictReader(fh) if row.get("note")]
    except (OSError, KeyError, csv.Error):
        pass
    return published_notes(cfg.published_db, cfg.export_consent)


def print_published_summary(cfg: _settings.Settings) -> None:
    import duckdb

    with duckdb.connect(os.fspath(cfg.published_db), read_only=True) as con:
        as_of = con.execute("select max(as_of_date) from customer_segments").fetchone()[0]
        rows = con.execute(
            "select coalesce(rfm_segment, '(no purchase in lookback)'), count(*) "
            "from customer_segments group by 1 order by 2 desc"
        ).fetchall()
    total = sum(n for _, n in rows)
    width = max(len(segment) for segment, _ in rows) if rows else 20
    print(f"\nCustomers per RFM segment as of {as_of} ({total:,} customers):")
    for segment, n in rows:
        print(f"  {segment:<{width}} {n:>8,}  {100 * n / total:5.1f}%")
    for note in _consent_notes(cfg):
        print(f"  exports: {note}")
    print(f"\nPublished file (open read-only): {cfg.published_db}")
    print("Dagster UI: `make dev`, then open http://127.0.0.1:3000")


def _allow_shrink(args: argparse.Namespace) -> None:
    """`--allow-shrink`: this run may reload changed files that lose most of their rows."""
    if getattr(args, "allow_shrink", False):
        os.environ["SEGMENTS_ALLOW_SHRINKING_RELOAD"] = "true"


def _files_loaded_before(cfg: _settings.Settings) -> int:
    """Files the build database has loaded (0 without one, or while a run holds it: the run
    itself then says the warehouse is busy)."""
    from pipelines.lib import runlock
    from pipelines.lib.duck import DatabaseBusyError, connect, table_exists

    if not cfg.build_db.exists():
        return 0
    with runlock.reading(cfg.warehouse_dir) as free:
        if not free:
            return 0
        try:
            with connect(cfg.build_db, read_only=True) as con:
                if not table_exists(con, "meta", "load_manifest"):
                    return 0
                return con.execute(
                    "select count(*) from meta.load_manifest where status = 'loaded'"
                ).fetchone()[0]
        except DatabaseBusyError:
            return 0


def landing_precheck(cfg: _settings.Settings) -> bool:
    """Before a run: one line when the landing zone is empty, missing, or has files where no
    source reads them (pipelines/defs/ingest/layout.py). False when the run must not start."""
    from pipelines.defs.ingest import layout

    found = layout.scan(cfg.landing_dir)
    finding = layout.check(found)
    if finding is not None and finding.level == "error":
        # Nothing in the landing zone: fine when earlier loads are there (files archived).
        finding = layout.check(found, _files_loaded_before(cfg))
    if finding is None:
        return True
    print(f"{finding.level}: {finding.message}", file=sys.stderr)
    return finding.level != "error"


def cmd_run(args: argparse.Namespace) -> int:
    _allow_shrink(args)
    cfg = _settings.load()
    if not landing_precheck(cfg):
        return 1
    as_of = args.as_of or cfg.as_of_date or _yesterday()
    # No pre-scan of the landing zone: the run loads whatever is new, and meta/run_as_of_dates
    # decides the history (a first refresh builds month-ends + the last 35 days).
    print(f"refresh: load new files, segments as of {as_of}")
    if not execute_refresh(as_of, as_of, wait=args.wait, verbose=args.verbose):
        return 1
    print_published_summary(cfg)
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    _allow_shrink(args)
    if args.end < args.start:
        print(f"--to {args.end} is before --from {args.start}", file=sys.stderr)
        return 2
    if not landing_precheck(_settings.load()):
        return 1
    if not execute_refresh(args.start, args.end, wait=args.wait, verbose=args.verbose):
        return 1
    print_published_summary(_settings.load())
    return 0


def cmd_unload(args: argparse.Namespace) -> int:
    from pipelines.defs.ingest.spec import IngestError
    from pipelines.defs.ingest.unload import unload_file
    from pipelines.lib.duck import DatabaseBusyError

    cfg = _settings.load()
    try:
        result = unload_file(args.path, cfg.landing_dir, cfg.build_db, undo=args.undo)
    except (IngestError, DatabaseBusyError) as exc:
        print(f"segments unload: {exc}", file=sys.stderr)
        return 1
    if result.undone:
        print(
            f"{result.file_path}: retraction undone; the next run loads the file again if it "
            "is still in the landing zone."
        )
        return 0
    print(
        f"{result.file_path}: unloaded {result.raw_rows} rows from raw and "
        f"{result.quarantine_rows} from quarantine.{result.source}; these bytes will not be "
        "loaded again (changed bytes will). Run `segments run` to publish without them."
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from pipelines.status import status_lines

    print("\n".join(status_lines()))
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    from pipelines.quarantine import quarantine_lines

    cfg = _settings.load()
    print("\n".join(quarantine_lines(cfg, args.source, args.reason, args.file, args.limit)))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pipelines.defs.publish.commands import export_command

    return export_command(args)


def cmd_report(args: argparse.Namespace) -> int:
    from pipelines.defs.publish.commands import report_command

    return report_command(args)


def cmd_bench(args: argparse.Namespace) -> int:
    from pipelines.bench.command import bench_command

    return bench_command(args)


WAIT_HELP = (
    "if another run holds the warehouse, wait for it (up to SEGMENTS_RUN_WAIT_SECONDS, "
    "default 3600) instead of stopping at once"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segments", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write sample source files into the landing zone")
    gen.add_argument("--customers", type=int, default=2000)
    gen.add_argument("--days", type=int, default=730)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument(
        "--end-date",
        type=_parse_date("--end-date"),
        default=None,
        help="last day of data (default: yesterday)",
    )
    gen.add_argument(
        "--split",
        choices=("month", "day"),
        default="month",
        help="one file per source per month (default) or per day",
    )
    gen.add_argument(
        "--transactions",
        type=int,
        default=None,
        help="aim for about this many transactions (overrides --customers)",
    )
    gen.add_argument("--landing-dir", default=None, help="default: $SEGMENTS_LANDING_DIR")
    gen.add_argument(
        "--if-empty", action="store_true", help="do nothing when the landing zone already has files"
    )
    gen.set_defaults(func=cmd_generate)

    run = sub.add_parser(
        "run", help="load new files, compute segments as of --as-of (default yesterday), publish"
    )
    run.add_argument(
        "--as-of",
        type=_parse_date("--as-of"),
        default=None,
        help="compute segments as of this date (default: yesterday)",
    )
    run.add_argument(
        "--allow-shrink",
        action="store_true",
        help="reload changed files even when their new version drops most of their rows",
    )
    run.add_argument("--wait", action="store_true", help=WAIT_HELP)
    run.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    run.set_defaults(func=cmd_run)

    bf = sub.add_parser(
        "backfill", help="one run that adds or replaces the segment history of --from .. --to"
    )
    bf.add_argument("--from", dest="start", type=_parse_date("--from"), required=True)
    bf.add_argument("--to", dest="end", type=_parse_date("--to"), required=True)
    bf.add_argument(
        "--allow-shrink",
        action="store_true",
        help="reload changed files even when their new version drops most of their rows",
    )
    bf.add_argument("--wait", action="store_true", help=WAIT_HELP)
    bf.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    bf.set_defaults(func=cmd_backfill)

    ul = sub.add_parser(
        "unload",
        help="retract a loaded file's rows from raw and quarantine (it is not loaded again "
        "unless its bytes change)",
    )
    ul.add_argument("path", help="the file, relative to the landing zone (shopify/orders.csv)")
    ul.add_argument("--undo", action="store_true", help="forget the retraction: load it again")
    ul.set_defaults(func=cmd_unload)

    st = sub.add_parser("status", help="last run, what it published, what failed")
    st.set_defaults(func=cmd_status)

    qu = sub.add_parser(
        "quarantine",
        help="rows ingest rejected: file, line, reason, raw text (safe while a run is going)",
    )
    qu.add_argument("--source", default=None, help="shopify, stripe, paypal, crm, fx, ...")
    qu.add_argument("--reason", default=None, help="a reason code, e.g. invalid_amount")
    qu.add_argument("--file", default=None, help="a landed file, e.g. shopify/orders.csv")
    qu.add_argument("--limit", type=int, default=50, help="rows listed (default 50)")
    qu.set_defaults(func=cmd_quarantine)

    ex = sub.add_parser("export", help="one segment's members as CSV for an email/SMS tool")
    ex.add_argument(
        "--segment",
        required=True,
        help='segment name, e.g. "At Risk", at_risk, vip, or a dynamic segment',
    )
    ex.add_argument(
        "--family",
        default=None,
        help="rfm, lifecycle, value_tier, engagement_band, ..., dynamic "
        "(needed only when the name exists in several families)",
    )
    ex.add_argument(
        "--as-of",
        type=_parse_date("--as-of"),
        default=None,
        help="membership as of this date (default: the latest published)",
    )
    ex.add_argument("--format", choices=("csv",), default="csv")
    ex.add_argument(
        "--include-no-consent",
        action="store_true",
        help="also export members without marketing consent",
    )
    ex.add_argument(
        "--output",
        default=None,
        help="file to write (default: $SEGMENTS_WAREHOUSE_DIR/exports/on_demand/...)",
    )
    ex.set_defaults(func=cmd_export)

    rp = sub.add_parser("report", help="rebuild the HTML segment report")
    rp.add_argument("--output", default=None, help="default: $SEGMENTS_WAREHOUSE_DIR/report.html")
    rp.set_defaults(func=cmd_report)

    bn = sub.add_parser(
        "bench",
        help="time a full refresh, a daily incremental and the "
        "pandas / polars / DuckDB peers on N generated transactions",
    )
    bn.add_argument("--transactions", type=int, default=1_000_000)
    bn.add_argument("--days", type=int, default=730, help="days of history (default 730)")
    bn.add_argument("--seed", type=int, default=42)
    bn.add_argument(
        "--work-dir",
        default=None,
        help="scratch landing zone + warehouse (default data/bench; wiped first)",
    )
    bn.add_argument("--results-dir", default=None, help="default bench/results")
    bn.add_argument("--keep", action="store_true", help="keep the work dir afterwards")
    bn.add_argument(
        "--profile",
        action="store_true",
        help="also run the product under cProfile (adds overhead to its times)",
    )
    bn.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except _settings.SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C outside a step (while Dagster starts, between stages); one inside a step ends
        # the run as failed and is reported above. A publish is all or nothing (os.replace).
        print(
            "interrupted (Ctrl-C): the published file is whole, the previous publish or a "
            "finished new one; `segments status` shows what ran.",
            file=sys.stderr,
        )
        return 130
    except Exception as exc:
        if not _is_definition_error(exc):
            raise
        # A segment YAML or an expectation suite that the code location cannot load: the
        # message names the file and line; a stack trace would only bury it.
        print(f"error: {exc}", file=sys.stderr)
        return 2


# Errors of files the code location reads when it loads (module, class): a raised one has
# been imported, so nothing is imported here for the commands that never load them.
DEFINITION_ERRORS = (
    ("pipelines.defs.segments.definition", "SegmentDefinitionError"),
    ("pipelines.lib.gx", "SuiteFileError"),
    ("pipelines.lib.profile", "MetricError"),
)


def _is_definition_error(exc: Exception) -> bool:
    for module, name in DEFINITION_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None and isinstance(exc, cls):
            return True
    return False


def run() -> None:
    """The `segments` command (console script and `python -m pipelines.cli`): `main`, then
    an exit that skips the interpreter's teardown.

    Tearing down the modules a run imports (Dagster, dbt, Great Expectations, pymc, scipy)
    took Python 2-3.6 s after the command had finished, on every command. So the exit
    happens in an atexit handler registered first, which runs after every other one
    (handlers run last-registered first: logging's flush, libraries' temp-file finalizers),
    with the output flushed, and then ends the process with the command's exit code instead
    of dismantling its objects one by one. Callers of `main` in-process (tests) are not
    affected. Everything the command wrote is already closed or committed by then: DuckDB
    files by their `with` blocks, the Dagster instance's storage per event."""
    status = [1]  # an exception escaping main: Python prints it, and the exit code is 1
    atexit.register(_exit_now, status)
    try:
        status[0] = main()
    except SystemExit as exc:  # argparse's usage errors (2), `raise SystemExit("...")` (1)
        status[0] = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        raise
    sys.exit(status[0])


def _exit_now(status: list[int]) -> None:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status[0])


if __name__ == "__main__":
    run()
