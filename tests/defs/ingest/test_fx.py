"""pipelines/defs/ingest/fx.py on tests/fixtures/fx/rates_2024-03.csv (reference data).

Fixture lines: 2-6 good rates, 7 EUR 2024-03-05 again, 8 rate 'abc', 9 currency XXY,
10 negative rate, 11 a rate for 2031.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from pipelines.defs.ingest.spec import IngestError

from .conftest import Warehouse

FIXTURE = "rates_2024-03.csv"


@pytest.fixture()
def loaded(wh: Warehouse) -> Warehouse:
    wh.land("fx", FIXTURE)
    wh.load("fx")
    return wh


def test_rates_are_typed_and_partitioned_by_rate_date(loaded: Warehouse) -> None:
    assert loaded.rows(
        "SELECT rate_date, currency, rate_to_reporting, _partition_date FROM raw.fx_rates "
        "WHERE currency = 'JPY'"
    ) == [(date(2024, 3, 4), "JPY", Decimal("0.00667000"), date(2024, 3, 4))]
    assert loaded.one("SELECT count(*) FROM raw.fx_rates") == 5


def test_each_messy_line_is_quarantined_with_its_reason_and_line(loaded: Warehouse) -> None:
    assert loaded.reasons("fx") == {
        7: "duplicate_id",  # EUR on 2024-03-05 twice: the first stays
        8: "invalid_value",
        9: "unknown_currency",
        10: "invalid_value",
        11: "future_date",
    }


def test_rate_column_naming_another_currency_fails_the_file(wh: Warehouse) -> None:
    wh.land("fx", as_name="rates_eur.csv", data="date,currency,rate_to_EUR\n2024-03-04,USD,0.92\n")
    with pytest.raises(IngestError) as err:
        wh.load("fx")
    assert "fx/rates_eur.csv" in str(err.value)
    assert "'rate_to_EUR'" in str(err.value) and "SEGMENTS_REPORTING_CURRENCY is USD" in str(
        err.value
    )
    assert wh.one("SELECT count(*) FROM raw.fx_rates") == 0


def test_a_new_reporting_currency_rechecks_loaded_files(loaded: Warehouse) -> None:
    with pytest.raises(IngestError, match="rate_to_USD"):
        loaded.load("fx", reporting_currency="EUR")
