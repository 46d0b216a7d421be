"""The peers: what a user would run instead of the product, and whether they agree with it.

Each peer is a standalone script in `bench/peers/` that reads the transactions CSV and writes
one row per scored customer to Parquet. The benchmark times each as its own process (start-up
and imports included, as a user would run it) and then checks that every customer's R, F and M
scores equal the product's, so the figures compare the same answer.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from pipelines.lib.duck import sql_str
from pipelines.settings import PROJECT_ROOT

PEERS_DIR = PROJECT_ROOT / "bench" / "peers"


@dataclass(frozen=True)
class Peer:
    key: str
    label: str
    script: str  # file name in PEERS_DIR
    note: str


PEERS: tuple[Peer, ...] = (
    Peer(
        "pandas_rfm",
        "pandas RFM script",
        "pandas_rfm.py",
        "read_csv + groupby + rank-based quintiles",
    ),
    Peer("polars_rfm", "polars RFM script", "polars_rfm.py", "the same in polars, lazy API"),
    Peer(
        "duckdb_rfm_floor",
        "DuckDB RFM query (floor)",
        "duckdb_rfm.py",
        "one hand-written SQL query (bench/peers/duckdb_rfm.sql)",
    ),
)


def peer_command(
    peer: Peer, transactions_csv: Path, as_of: date, lookback_days: int, out: Path
) -> list[str]:
    """The command line that runs one peer, with the interpreter running the benchmark."""
    script = PEERS_DIR / peer.script
    if not script.exists():
        raise FileNotFoundError(
            f"peer script {script} is missing: `segments bench` runs from a checkout of the "
            "project (the peers live in bench/peers/, beside dbt_project/)"
        )
    return [
        sys.executable,
        os.fspath(script),
        "--transactions",
        os.fspath(transactions_csv),
        "--as-of",
        as_of.isoformat(),
        "--lookback-days",
        str(lookback_days),
        "--out",
        os.fspath(out),
    ]


def compare_scores(product_parquet: Path, peer_parquet: Path) -> dict[str, object]:
    """Customer-by-customer comparison of R, F and M scores (full outer join on customer_key).

    `matches` is true only when both sides score the same customers and every score is equal.
    """
    with duckdb.connect() as con:
        row = con.execute(
            f"""
            select
                count(product.customer_key) as product_customers,
                count(peer.customer_key) as peer_customers,
                count(*) filter (where product.customer_key is null or peer.customer_key is null)
                    as unmatched_customers,
                count(*) filter (where product.r_score is distinct from peer.r_score) as r_differs,
                count(*) filter (where product.f_score is distinct from peer.f_score) as f_differs,
                count(*) filter (where product.m_score is distinct from peer.m_score) as m_differs,
                count(*) filter (
                    where product.r_score = peer.r_score
                      and product.f_score = peer.f_score
                      and product.m_score = peer.m_score
                ) as customers_equal
            from read_parquet({sql_str(os.fspath(product_parquet))}) as product
            full outer join read_parquet({sql_str(os.fspath(peer_parquet))}) as peer
                on product.customer_key = peer.customer_key
            """
        ).fetchone()
    keys = (
        "product_customers",
        "peer_customers",
        "unmatched_customers",
        "r_differs",
        "f_differs",
        "m_differs",
        "customers_equal",
    )
    result: dict[str, object] = dict(zip(keys, row, strict=True))
    result["matches"] = row[0] == row[1] == row[6] and row[2] == 0 and row[0] > 0
    return result


def agreement_note(agreement: dict[str, object]) -> str:
    """One table cell: does the peer compute what the product computes?"""
    if agreement["matches"]:
        return (
            f"R, F, M scores equal the product's for all {agreement['product_customers']:,} "
            "customers"
        )
    return (
        f"**scores differ from the product's**: {agreement['customers_equal']:,} of "
        f"{agreement['product_customers']:,} customers equal (R differs "
        f"{agreement['r_differs']:,}, F {agreement['f_differs']:,}, M {agreement['m_differs']:,}, "
        "unmatched "
        f"{agreement['unmatched_customers']:,})"
    )
