"""Run duckdb_rfm.sql (the hand-written RFM query) on a transactions CSV; write Parquet.

The runner only binds the parameters and copies the result out: all the work is the one
query in duckdb_rfm.sql, the floor for computing RFM scores on this machine.

    python bench/peers/duckdb_rfm.py --transactions tx.csv --as-of 2026-10-31 \
        --lookback-days 730 --out scores.parquet
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

QUERY = Path(__file__).with_name("duckdb_rfm.sql")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", required=True, help="CSV of net transactions")
    parser.add_argument("--as-of", required=True, help="score as of this date (YYYY-MM-DD)")
    parser.add_argument("--lookback-days", type=int, default=730)
    parser.add_argument("--out", required=True, help="Parquet file for the scores")
    args = parser.parse_args()

    query = QUERY.read_text()
    with duckdb.connect() as con:
        con.execute(
            f"copy ({query}) to $out (format parquet)",
            {
                "transactions": args.transactions,
                "as_of": args.as_of,
                "lookback_days": args.lookback_days,
                "out": args.out,
            },
        )


if __name__ == "__main__":
    main()
