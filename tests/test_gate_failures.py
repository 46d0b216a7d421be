"""A failed gate names its check, its count of rows, the landed file(s) and example rows, in the
CLI and in `segments status`, without a stack trace; the published file keeps its bytes.

One scenario with real `segments` processes on a tiny generated data set (40 customers, 30
days), after a first run that publishes:

1. **dbt test.** One Shopify order in CHF, a currency the fx files have no rate for: ingest
   loads it (a valid ISO code), the dbt test `assert_transactions_have_an_fx_rate` (error)
   fails, so nothing is published. Then the file is retracted (`segments unload`).
2. **GX check.** 120 Shopify orders without email (the export lost the column): ingest loads
   them (a guest order may have no email), the critical `null_share(email) <= 0.5`
   expectation of expectations/raw_shopify_orders.json fails.
3. **Bad input.** A ZIP file named `.csv` in shopify/: the source's ingest step fails.
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from pipelines.generate import generate
from pipelines.settings import PROJECT_ROOT
from tests.helpers import land_orders_without_email, process_env, sha256, shopify_rows, write_orders

END = date(2026, 9, 30)
RUN = ["-m", "pipelines.cli", "run", "--as-of", END.isoformat()]
STATUS = ["-m", "pipelines.cli", "status"]
TRACES = ("Traceback", "Stack Trace", 'File "/')


@dataclass
class Outcome:
    rc: int
    output: str  # stdout + stderr
    status: str  # `segments status` right after
    sha_before: str
    sha_after: str


@dataclass
class Scenario:
    outcomes: dict[str, Outcome] = field(default_factory=dict)


def block(text: str, headline: str) -> list[str]:
    """The line holding `headline` and the example lines (`e.g. ...`) right after it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if headline in line)
    out = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.strip().startswith("e.g. "):
            break
        out.append(line)
    return out


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def land_order_in_chf(landing: Path) -> None:
    row, columns = shopify_rows(landing)
    ts = f"{END.isoformat()} 09:00:00 +0000"
    order = {"Name": "#77001", "Id": "77001", "Currency": "CHF", "Email": "franc@example.com"}
    write_orders(
        landing / "shopify" / "swiss_shop.csv",
        columns,
        [row | order | {"Created at": ts, "Paid at": ts}],
    )


def land_zip_named_csv(landing: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("orders.csv", "Name,Email\n#1,a@example.com\n")
    (landing / "shopify" / "orders_archive.csv").write_bytes(buffer.getvalue())


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    root = tmp_path_factory.mktemp("gates")
    landing, warehouse = root / "landing", root / "warehouse"
    generate(landing, customers=40, days=30, seed=3, end_date=END)
    env = process_env(landing, warehouse, SEGMENTS_REPORTING_CURRENCY="USD")
    first = cli(env, *RUN)
    assert first.returncode == 0, first.stderr[-3000:]
    published = warehouse / "segments.duckdb"
    sc = Scenario()

    def failing_run(name: str) -> None:
        before = sha256(published)
        done = cli(env, *RUN)
        status = cli(env, *STATUS)
        assert status.returncode == 0, status.stderr[-3000:]
        sc.outcomes[name] = Outcome(
            done.returncode, done.stdout + done.stderr, status.stdout, before, sha256(published)
        )

    land_order_in_chf(landing)
    failing_run("dbt")
    unload = cli(env, "-m", "pipelines.cli", "unload", "shopify/swiss_shop.csv")
    assert unload.returncode == 0, unload.stderr
    land_orders_without_email(landing, END)
    failing_run("gx")
    land_zip_named_csv(landing)
    failing_run("bad_input")
    yield sc


def test_failed_dbt_test_names_count_file_and_an_example_row(scenario: Scenario) -> None:
    run = scenario.outcomes["dbt"]
    assert run.rc == 1
    headline = (
        "dbt test assert_transactions_have_an_fx_rate on marts/fct_transactions (error): "
        "1 failing row; files: shopify/swiss_shop.csv (1 row, line 2); land fx rates"
    )
    example = (
        "e.g. shopify/swiss_shop.csv line 2: original_currency=CHF, transactions_without_rate=1"
    )
    for text in (run.output, run.status):
        assert headline in text, text[-4000:]
        assert example in text
    assert "nothing was published" in run.output


def test_failed_gx_check_names_count_file_and_an_example_row(scenario: Scenario) -> None:
    run = scenario.outcomes["gx"]
    assert run.rc == 1
    headline = (
        "check raw/shopify_orders:gx_critical failed (ERROR): null_share(email) = 1, "
        "expected <= 0.5"
    )
    found = "120 rows of 120 in the batch break it; files: shopify/late_adjustment.csv (120 rows"
    example = "e.g. shopify/late_adjustment.csv line 2: order_name=#99001, order_id=99001"
    for text in (run.output, run.status):
        assert headline in text, text[-4000:]
        assert found in text and example in text
        examples = block(text, headline)[1:]
        assert len(examples) == 3, examples  # up to 3 example rows
    # the check says it in one line; the check step's own "1 blocking asset check failed"
    # is not repeated
    assert "blocking asset check failed" not in run.status


@pytest.mark.parametrize("name", ["dbt", "gx", "bad_input"])
def test_a_failed_run_prints_no_stack_trace_and_keeps_the_published_bytes(
    scenario: Scenario, name: str
) -> None:
    run = scenario.outcomes[name]
    assert run.rc == 1
    for trace in TRACES:
        assert trace not in run.output, run.output[-4000:]
        assert trace not in run.status
    assert run.sha_after == run.sha_before


def test_a_bad_input_names_the_file_in_one_line(scenario: Scenario) -> None:
    run = scenario.outcomes["bad_input"]
    assert "shopify/orders_archive.csv: the file is a ZIP" in run.output
    assert "shopify/orders_archive.csv: the file is a ZIP" in run.status
