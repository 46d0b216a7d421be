"""`segments`: the project CLI for data engineers and analysts.

    segments generate [--customers N --days D --seed S]   sample data into the landing zone
    segments run [--as-of DATE]                           load new files, segments as of DATE
    segments backfill --from DATE --to DATE               add or replace the history of a range
    segments status                                       last run, what it published, what failed
    segments export --segment NAME [--family F --as-of D] one segment's members as CSV (consenting)
    segments report                                       rebuild the HTML report
    segments bench [--transactions N]                     time it against pandas/polars/DuckDB

Runs go through the same Dagster job the schedule uses, recorded in the Dagster instance at
$DAGSTER_HOME (default `$SEGMENTS_WAREHOUSE_DIR/dagster_home`), so `make dev` shows them.
"""

from __future__ import annotations

import argparse
import os
import sys
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
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def execute_refresh(start: date, end: date) -> bool:
    """One run of the refresh job for as-of dates [start, end]; True when it succeeded."""
    import dagster as dg

    from pipelines.status import failure_text

    cfg = _settings.load()
    _settings.ensure_dagster_home(cfg)
    from pipelines.definitions import defs
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
    if start == end:
        result = job.execute_in_process(
            instance=instance, partition_key=end.isoformat(), raise_on_error=False
        )
    else:
        result = job.execute_in_process(
            instance=instance,
            tags={
                RANGE_START_TAG: start.isoformat(),
                RANGE_END_TAG: end.isoformat(),
            },
            raise_on_error=False,
        )
    if not result.success:
        failed = [ev for ev in result.all_events if ev.is_step_failure]
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
        for ev in failed:
            err = ev.step_failure_data.error
            print(f"  step {ev.step_key}: {failure_text(err)}", file=sys.stderr)
        print(
            "  details: `segments status`, or `make dev` and open the run in the Dagster UI.",
            file=sys.stderr,
        )
        return False
    span = start.isoformat() if start == end else f"{start} .. {end}"
    print(f"run {result.run_id} succeeded: as of {span}")
    return True


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
    from pipelines.defs.publish.consent import published_notes

    for note in published_notes(cfg.published_db, cfg.export_consent):
        print(f"  exports: {note}")
    print(f"\nPublished file (open read-only): {cfg.published_db}")
    print("Dagster UI: `make dev`, then open http://127.0.0.1:3000")


def cmd_run(args: argparse.Namespace) -> int:
    cfg = _settings.load()
    as_of = args.as_of or cfg.as_of_date or _yesterday()
    # No pre-scan of the landing zone: the run loads whatever is new, and meta/run_as_of_dates
    # decides the history (a first refresh builds month-ends + the last 35 days).
    print(f"refresh: load new files, segments as of {as_of}")
    if not execute_refresh(as_of, as_of):
        return 1
    print_published_summary(cfg)
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    if args.end < args.start:
        print(f"--to {args.end} is before --from {args.start}", file=sys.stderr)
        return 2
    if not execute_refresh(args.start, args.end):
        return 1
    print_published_summary(_settings.load())
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from pipelines.status import status_lines

    print("\n".join(status_lines()))
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
    run.set_defaults(func=cmd_run)

    bf = sub.add_parser(
        "backfill", help="one run that adds or replaces the segment history of --from .. --to"
    )
    bf.add_argument("--from", dest="start", type=_parse_date("--from"), required=True)
    bf.add_argument("--to", dest="end", type=_parse_date("--to"), required=True)
    bf.set_defaults(func=cmd_backfill)

    st = sub.add_parser("status", help="last run, what it published, what failed")
    st.set_defaults(func=cmd_status)

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


if __name__ == "__main__":
    sys.exit(main())
