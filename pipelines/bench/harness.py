"""`run_bench`: generate N transactions, then time the product and its peers on them.

In one process tree (every measured thing is a child of `segments bench`, run one at a time):

1. generate the sample sources for the history plus one new day, and hold the new day back;
2. full refresh (`segments run --as-of <last day>`), timed end to end with peak memory, split
   into stages from the run's Dagster event log (pipelines/bench/stages.py);
3. untimed: export the product's net transactions to one CSV, snapshot its published scores;
4. the peers (bench/peers/: pandas, polars, one DuckDB query) on that CSV, each timed, each
   checked customer by customer against the product's R, F and M scores;
5. the new day's files arrive; daily incremental (`segments backfill --from D --to D`), timed;
6. the table, as Markdown and JSON in bench/results/, with the machine beside the figures.

The product runs in a fresh work dir with its own landing zone, warehouse and DAGSTER_HOME,
so a benchmark never touches the user's data, and the user's data never skews it.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from pipelines.bench import peers as _peers
from pipelines.bench import workload
from pipelines.bench.measure import Measurement, log_tail, run_measured
from pipelines.bench.report import BenchReport, Row, machine_info, write_report
from pipelines.bench.rows import profile_summary, ratios, refresh_rows, write_profile_text
from pipelines.bench.stages import RunProfile, latest_run_profile
from pipelines.bench.workload import BenchDates, BenchError
from pipelines.settings import DBT_PROJECT_DIR, PROJECT_ROOT

DEFAULT_WORK_DIR = PROJECT_ROOT / "data" / "bench"
DEFAULT_RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
# Written into the work dir, so a later run only ever deletes a dir the benchmark made.
WORK_DIR_MARKER = ".segments-bench"


@dataclass(frozen=True)
class BenchConfig:
    """What to benchmark. `today` fixes the calendar (tests); default: the UTC date."""

    transactions: int = 1_000_000
    days: int = 730
    seed: int = 42
    work_dir: Path = DEFAULT_WORK_DIR
    results_dir: Path = DEFAULT_RESULTS_DIR
    keep: bool = False
    profile: bool = False
    today: date | None = None


@dataclass(frozen=True)
class WorkDirs:
    """The benchmark's private landing zone, warehouse and scratch space."""

    root: Path

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def held_back(self) -> Path:
        """The new day's files, waiting for the incremental."""
        return self.root / "new_day"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def dagster_home(self) -> Path:
        return self.warehouse / "dagster_home"

    @property
    def peers(self) -> Path:
        """The peers' CSV input, their Parquet outputs and the product's scores."""
        return self.root / "peers"

    @property
    def logs(self) -> Path:
        """stdout + stderr of every measured command."""
        return self.root / "logs"

    @property
    def build_db(self) -> Path:
        return self.warehouse / "build.duckdb"

    @property
    def published_db(self) -> Path:
        return self.warehouse / "segments.duckdb"


@dataclass
class BenchResult:
    report: BenchReport
    markdown_path: Path
    json_path: Path
    work_dir: Path | None  # None when it was removed
    profiles: list[Path] = field(default_factory=list)


def prepare_work_dir(root: Path) -> WorkDirs:
    """An empty work dir; refuses to wipe a dir that an earlier benchmark did not create."""
    root = root.resolve()
    if root.exists() and any(root.iterdir()):
        if not (root / WORK_DIR_MARKER).exists():
            raise BenchError(
                f"work dir {root} is not empty and was not made by `segments bench`; "
                "pass --work-dir with a new or empty folder"
            )
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / WORK_DIR_MARKER).write_text("scratch space of `segments bench`; safe to delete\n")
    dirs = WorkDirs(root)
    dirs.dagster_home.mkdir(parents=True)
    return dirs


def product_env(dirs: WorkDirs, dates: BenchDates) -> dict[str, str]:
    """The product's environment: the benchmark's own dirs, settings fixed for repeatability."""
    return {
        **os.environ,
        "SEGMENTS_LANDING_DIR": os.fspath(dirs.landing),
        "SEGMENTS_WAREHOUSE_DIR": os.fspath(dirs.warehouse),
        "DAGSTER_HOME": os.fspath(dirs.dagster_home),
        "SEGMENTS_START_DATE": dates.start.isoformat(),
        "SEGMENTS_AS_OF_DATE": "",  # the as-of date comes from the command line
        "SEGMENTS_REPORTING_CURRENCY": "USD",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def run_product(
    key: str,
    label: str,
    cli_args: list[str],
    env: dict[str, str],
    dirs: WorkDirs,
    profile_path: Path | None,
) -> tuple[Measurement, RunProfile]:
    """Run one `segments` command as a child process; its measurement and run profile."""
    module = ["-m", "pipelines.cli", *cli_args]
    if profile_path is not None:
        module = ["-m", "cProfile", "-o", os.fspath(profile_path), *module]
    measured = run_measured(
        label, [sys.executable, *module], env, dirs.logs / f"{key}.log", cwd=dirs.root
    )
    if not measured.ok:
        raise BenchError(
            f"{label} (`segments {' '.join(cli_args)}`) failed with exit code "
            f"{measured.returncode}; full log: {measured.log_path}\n{log_tail(measured.log_path)}"
        )
    return measured, latest_run_profile(dirs.dagster_home, DBT_PROJECT_DIR / "target")


def generate_workload(config: BenchConfig, dirs: WorkDirs, dates: BenchDates):
    """Generate the history plus the new day (split by month) and hold the new day back.

    Returns the generator's summary, the held-back files and the seconds it took (untimed in
    the table: generating sample data is not something a user's refresh does).
    """
    from pipelines.generate import generate

    started = time.perf_counter()
    # In a child process: the generator holds the whole simulated world (17 GiB at 30M
    # transactions, bench/README.md), and memory a process has freed is not always returned
    # to the system; the bench's own process then stays small while the product runs.
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        summary = pool.submit(
            generate,
            dirs.landing,
            days=config.days + 1,
            seed=config.seed,
            end_date=dates.new_day,
            split="month",
            reporting_currency="USD",
            target_transactions=config.transactions,
        ).result()
    held = workload.hold_back_new_day(dirs.landing, dirs.held_back, dates.new_day)
    return summary, held, time.perf_counter() - started


def run_peers(
    dirs: WorkDirs, transactions_csv: Path, product_scores: Path, as_of: date, lookback_days: int
) -> tuple[list[Row], dict[str, dict[str, object]]]:
    """Time every peer on the CSV and compare its scores with the product's, customer by
    customer. Returns one row per peer and the agreement per peer key."""
    rows: list[Row] = []
    agreement: dict[str, dict[str, object]] = {}
    for peer in _peers.PEERS:
        print(f"bench: {peer.label}", flush=True)
        out = dirs.peers / f"{peer.key}.parquet"
        command = _peers.peer_command(peer, transactions_csv, as_of, lookback_days, out)
        measured = run_measured(peer.label, command, os.environ, dirs.logs / f"{peer.key}.log")
        if not measured.ok:
            raise BenchError(
                f"{peer.label} failed with exit code {measured.returncode}; log: "
                f"{measured.log_path}\n{log_tail(measured.log_path)}"
            )
        agreement[peer.key] = _peers.compare_scores(product_scores, out)
        note = f"{peer.note}; {_peers.agreement_note(agreement[peer.key])}"
        rows.append(Row(peer.key, peer.label, measured.seconds, measured.peak_rss_bytes, note))
    return rows, agreement


def run_bench(config: BenchConfig) -> BenchResult:
    """Run the whole benchmark (module docstring) and write its table; see BenchResult."""
    if config.transactions < 100:
        raise BenchError(f"--transactions {config.transactions}: ask for at least 100")
    started = datetime.now(UTC)
    stem = f"bench-{config.transactions}-{started:%Y%m%dT%H%M%SZ}"
    machine = machine_info()
    dates = workload.bench_dates(config.today or started.date(), config.days)
    dirs = prepare_work_dir(config.work_dir)
    env = product_env(dirs, dates)
    config.results_dir.mkdir(parents=True, exist_ok=True)

    def profile_path(key: str) -> Path | None:
        return config.results_dir / f"{stem}-{key}.prof" if config.profile else None

    print(
        f"bench: generating ~{config.transactions:,} transactions over {config.days} days "
        f"+ 1 new day in {dirs.landing}",
        flush=True,
    )
    summary, held, generate_seconds = generate_workload(config, dirs, dates)
    # untimed, as `make bench` does first: a fresh clone has no dbt manifest yet
    from pipelines.defs.warehouse.project import ensure_manifest

    ensure_manifest()

    print(
        f"bench: full refresh as of {dates.as_of} ({dates.partitions} days of history)", flush=True
    )
    full, full_profile = run_product(
        "full_refresh",
        "full refresh",
        ["run", "--as-of", dates.as_of.isoformat()],
        env,
        dirs,
        profile_path("full_refresh"),
    )

    # untimed: the peers' input, and the product's answer to compare them with (the
    # incremental replaces the published file, so it is copied now)
    dirs.peers.mkdir(parents=True, exist_ok=True)
    product_scores = dirs.peers / "product_scores.parquet"
    transactions_csv = dirs.peers / "transactions.csv"
    customers_scored = workload.snapshot_product_scores(
        dirs.published_db, product_scores, dates.as_of
    )
    n_transactions = workload.export_transactions(dirs.build_db, transactions_csv, dates.as_of)
    settings = workload.rfm_settings(dirs.build_db)
    warnings = []
    if set(settings["scoring"].values()) != {"quintile"}:
        warnings.append(
            "the product scores some RFM dimensions with fixed thresholds "
            f"({settings['scoring']}); the peers use quintiles, so their scores cannot match "
            "on those dimensions"
        )
    peer_rows, agreement = run_peers(
        dirs, transactions_csv, product_scores, dates.as_of, settings["lookback_days"]
    )

    print(f"bench: daily incremental for {dates.new_day} ({len(held)} new files)", flush=True)
    workload.drop_new_day(dirs.held_back, dirs.landing, held)
    day = dates.new_day.isoformat()
    incremental, inc_profile = run_product(
        "incremental",
        "daily incremental",
        ["backfill", "--from", day, "--to", day],
        env,
        dirs,
        profile_path("incremental"),
    )
    new_day_transactions = workload.transactions_on(dirs.build_db, dates.new_day)

    rows = [
        *refresh_rows(
            "full_refresh",
            "product: full refresh",
            full,
            full_profile,
            "ingest every file, build every dbt model, run every check, publish",
        ),
        *refresh_rows(
            "incremental",
            "product: daily incremental",
            incremental,
            inc_profile,
            f"one new day ({new_day_transactions:,} transactions, {len(held)} files) "
            "on the history",
        ),
        *peer_rows,
    ]
    machine["load_average_end"] = list(os.getloadavg())
    report = BenchReport(
        title=f"Benchmark: {config.transactions:,} transactions ({started:%Y-%m-%d %H:%M} UTC)",
        machine=machine,
        workload={
            "requested_transactions": config.transactions,
            "transactions": n_transactions,
            "generated_purchases": summary.transactions,
            "customers_scored": customers_scored,
            "days": config.days,
            "seed": config.seed,
            "start": dates.start.isoformat(),
            "as_of": dates.as_of.isoformat(),
            "new_day": dates.new_day.isoformat(),
            "new_day_files": len(held),
            "new_day_transactions": new_day_transactions,
            "landed_files": len(summary.files) - len(held),
            "generate_seconds": round(generate_seconds, 2),
            "rfm_settings": settings,
            "peer_input": "the product's marts.fct_transactions, exported untimed: "
            "customer_key, transaction_date, is_purchase, net_amount",
        },
        rows=rows,
        ratios=ratios({r.key: r.seconds for r in rows}),
        score_agreement=agreement,
        profiles={
            "full refresh": profile_summary(full_profile),
            "daily incremental": profile_summary(inc_profile),
        },
        warnings=warnings,
    )
    profiles = []
    if config.profile:
        report.warnings.append("run with --profile: the product's times include cProfile overhead")
        written = sorted(config.results_dir.glob(f"{stem}-*.prof"))
        profiles = [write_profile_text(p) for p in written]
    md, js = write_report(report, config.results_dir, stem)
    kept = dirs.root
    if not config.keep:
        shutil.rmtree(dirs.root)
        kept = None
    return BenchResult(report, md, js, kept, profiles)
