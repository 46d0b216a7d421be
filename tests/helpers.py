"""Helpers shared by the scenario tests that land files and run `segments` as a process."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from pipelines.settings import PROJECT_ROOT


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def process_env(landing: Path, warehouse: Path, **extra: str) -> dict[str, str]:
    """The environment of a `segments` child process on this landing zone and warehouse."""
    env = {
        **os.environ,
        "PYTHONPATH": os.fspath(PROJECT_ROOT),
        "PYTHONUNBUFFERED": "1",
        "SEGMENTS_LANDING_DIR": os.fspath(landing),
        "SEGMENTS_WAREHOUSE_DIR": os.fspath(warehouse),
        "DAGSTER_HOME": os.fspath(warehouse / "dagster_home"),
        **extra,
    }
    env.pop("SEGMENTS_AS_OF_DATE", None)
    return env


def shopify_rows(landing: Path) -> tuple[dict[str, str], list[str]]:
    """The first order row of the first landed Shopify file, and the file's columns."""
    template = sorted((landing / "shopify").glob("*.csv"))[0]
    with template.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        row, columns = next(reader), reader.fieldnames
    assert columns is not None
    return row, list(columns)


def write_orders(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def land_orders_without_email(landing: Path, day: date) -> None:
    """120 Shopify orders of `day` with an empty Email (shopify/late_adjustment.csv): ingest
    loads them (a guest order may have no email), the critical `null_share(email) <= 0.5`
    expectation of expectations/raw_shopify_orders.json rejects the batch."""
    row, columns = shopify_rows(landing)
    ts = f"{day.isoformat()} 10:00:00 +0000"
    rows = [
        row
        | {
            "Name": f"#{99001 + n}",
            "Id": str(99001 + n),
            "Email": "",
            "Created at": ts,
            "Paid at": ts,
        }
        for n in range(120)
    ]
    write_orders(landing / "shopify" / "late_adjustment.csv", columns, rows)


def fresh_python(code: str) -> str:
    """The last line `code` prints in a new interpreter (nothing imported or built yet); a
    failure of `code` fails the calling test with its stderr."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]
