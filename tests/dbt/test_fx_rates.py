"""FX conversion takes only fresh, earlier rates, and a jumped rate stops the run
(issue 11: a missing month of PLN silently used a stale rate for 103 sales, a currency whose
rates start late took a rate from 43 days later, and 24.2 for 0.242 made one sale huge).

Real `dbt build`s on the synthetic raw data of raw_fixtures.py with the faults planted in
raw.fx_rates; the failing tests' rows are read back from dbt's store_failures tables."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import query, run_dbt
from raw_fixtures import write_synthetic

MISSING_MONTH = (date(2024, 3, 1), date(2024, 3, 31))  # PLN
MAX_RATE_AGE_DAYS = 7  # fx.max_rate_age_days in seeds/segment_settings.csv
LATE_START_DAYS = 43  # JPY rates start this many days after the data does
TYPO_DAY = date(2024, 1, 10)  # EUR: 100 times the real rate


@pytest.fixture(scope="module")
def stale(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build of fct_transactions (and its tests) with a month of PLN rates missing and JPY
    rates starting late."""
    work = tmp_path_factory.mktemp("fx_stale")
    db = write_synthetic(work / "build.duckdb", transactions=2000)
    with duckdb.connect(str(db)) as con:
        con.execute(
            "delete from raw.fx_rates where currency = 'PLN' and rate_date between ? and ?",
            list(MISSING_MONTH),
        )
        first = con.execute("select min(_partition_date) from raw.shopify_orders").fetchone()[0]
        con.execute(
            "delete from raw.fx_rates where currency = 'JPY' and rate_date < ?",
            [first + timedelta(days=LATE_START_DAYS)],
        )
    result = run_dbt(db, work, "build", "--select", "+fct_transactions", check=False)
    assert result.returncode != 0, "a stale FX rate must fail the build"
    assert "assert_transactions_have_an_fx_rate" in result.stdout
    return db


def test_no_transaction_takes_a_stale_or_later_rate(stale: Path):
    rows = query(
        stale,
        f"""
        select original_currency, count(*) from marts.fct_transactions
        where fx_rate_to_reporting is not null and original_currency <> 'USD'
          and (datediff('day', fx_rate_date, transaction_date) > {MAX_RATE_AGE_DAYS}
               or fx_rate_date > transaction_date)
        group by 1
        """,
    )
    assert rows == []


def test_failing_check_names_currency_dates_and_count(stale: Path):
    failures = {
        currency: (count, first, last)
        for currency, count, first, last in query(
            stale,
            "select original_currency, sum(transactions_without_rate), min(first_date), "
            "max(last_date) from dbt_test__audit.assert_transactions_have_an_fx_rate group by 1",
        )
    }
    assert set(failures) == {"PLN", "JPY"}
    count, first, last = failures["PLN"]
    # Feb 29 (a Thursday) is the newest rate before the gap: fresh enough until Mar 7
    assert date(2024, 3, 8) <= first and last <= MISSING_MONTH[1] and count > 0
    pln_in_gap = query(
        stale,
        "select count(*) from marts.fct_transactions where original_currency = 'PLN' "
        "and transaction_date between date '2024-03-08' and date '2024-03-31'",
    )[0][0]
    assert count == pln_in_gap
    jpy_count, _, jpy_last = failures["JPY"]
    jpy_first_rate = query(stale, "select min(rate_date) from staging.stg_fx__rates "
                                  "where currency = 'JPY'")[0][0]  # fmt: skip
    assert jpy_count > 0 and jpy_last < jpy_first_rate


def test_a_hundredfold_typo_stops_the_run_naming_currency_and_day(tmp_path: Path):
    db = write_synthetic(tmp_path / "build.duckdb", transactions=500)
    with duckdb.connect(str(db)) as con:
        con.execute(
            "update raw.fx_rates set rate_to_reporting = rate_to_reporting * 100 "
            "where currency = 'EUR' and rate_date = ?",
            [TYPO_DAY],
        )
    result = run_dbt(
        db, tmp_path, "build", "--select", "+stg_fx__rates", "+int_segment_settings", check=False
    )
    assert result.returncode != 0 and "assert_fx_rates_move_within_the_daily_limit" in result.stdout
    jumps = query(
        db,
        "select currency, rate_date from dbt_test__audit.assert_fx_rates_move_within_the_daily_limit "
        "order by 2",
    )
    # the jump up on the typo's day and back down on the next published day; nothing else
    assert jumps[0] == ("EUR", TYPO_DAY) and len(jumps) == 2 and {c for c, _ in jumps} == {"EUR"}
