"""`segments bench`: the product side by side with what users would run instead.

    from pipelines.bench import BenchConfig, run_bench
    result = run_bench(BenchConfig(transactions=1_000_000))
    print(result.markdown_path.read_text())

Modules: harness (the run, in order), workload (data, dates, the peers' input), measure (time
and peak memory of a child process), stages (stage timings from the Dagster event log), peers
(the scripts in bench/peers/ and the score comparison), rows (the table's rows and ratios),
report (Markdown + JSON).
See bench/README.md for what is measured and why it is a fair comparison.
"""

from pipelines.bench.harness import BenchConfig, BenchResult, run_bench
from pipelines.bench.workload import BenchError

__all__ = ["BenchConfig", "BenchError", "BenchResult", "run_bench"]
