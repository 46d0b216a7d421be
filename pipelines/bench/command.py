"""`segments bench`: argparse namespace → BenchConfig → run → the table on stdout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipelines.bench.harness import BenchConfig, run_bench
from pipelines.bench.workload import BenchError


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    defaults = BenchConfig()
    return BenchConfig(
        transactions=args.transactions,
        days=args.days,
        seed=args.seed,
        work_dir=Path(args.work_dir) if args.work_dir else defaults.work_dir,
        results_dir=Path(args.results_dir) if args.results_dir else defaults.results_dir,
        keep=args.keep,
        profile=args.profile,
    )


def bench_command(args: argparse.Namespace) -> int:
    """0 when every measurement ran and every peer agrees with the product, else 1."""
    config = config_from_args(args)
    try:
        result = run_bench(config)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        print(f"  work dir kept for inspection: {config.work_dir}", file=sys.stderr)
        return 1
    print()
    print(result.markdown_path.read_text())
    print(f"written: {result.markdown_path}\n         {result.json_path}")
    for path in result.profiles:
        print(f"profile: {path}")
    if result.work_dir is not None:
        print(f"work dir kept: {result.work_dir}")
    if not result.report.scores_match:
        print(
            "bench: a peer's scores differ from the product's; the comparison is not "
            "like for like (see the notes in the table)",
            file=sys.stderr,
        )
        return 1
    return 0
