"""A small real build database for dynamic segments: the three tables a segment can test
(customer_facts, customer_segments, customer_predictions), typed from the dbt YAML.

The tables get every column the catalogue declares, at its declared data_type, so the tests
follow the dbt models as they gain columns. Rows name only the columns they care about; the
rest stay null.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from pipelines.defs.segments.catalogue import (
    FACTS_MODEL,
    LABELS_MODEL,
    MODELS,
    PREDICTIONS_MODEL,
    Catalogue,
    load_catalogue,
)
from pipelines.defs.segments.dynamic import SegmentDefinition, parse_definition
from pipelines.lib.duck import quote_ident

MAY = date(2026, 5, 31)
NOV = date(2026, 11, 22)

# (as_of_date, customer_key) → customer-fact columns. Each shipped example has one customer
# made for it on NOV; c_pl_faded has the same facts on both dates so that "90 days ago"
# lets it in on MAY and not on NOV.
FACTS: dict[tuple[date, str], dict[str, Any]] = {
    (MAY, "c_pl_regular"): {
        "country_code": "PL",
        "orders_count": 3,
        "last_order_date": date(2026, 5, 20),
    },
    (NOV, "c_pl_regular"): {
        "country_code": "PL",
        "orders_count": 4,
        "last_order_date": date(2026, 11, 1),
    },
    (MAY, "c_pl_faded"): {
        "country_code": "PL",
        "orders_count": 5,
        "last_order_date": date(2026, 5, 1),
    },
    (NOV, "c_pl_faded"): {
        "country_code": "PL",
        "orders_count": 5,
        "last_order_date": date(2026, 5, 1),
    },
    (MAY, "c_lapsed"): {
        "net_revenue": 1500,
        "orders_count": 6,
        "last_order_date": date(2026, 4, 1),
    },
    (NOV, "c_lapsed"): {
        "net_revenue": 1500,
        "orders_count": 6,
        "last_order_date": date(2026, 4, 1),
    },
    (NOV, "c_young"): {
        "age_band": "25-34",
        "discount_share": 0.6,
        "orders_count": 5,
        "country_code": "FR",
    },
    (NOV, "c_vip"): {"country_code": "US", "orders_count": 9, "net_revenue": 4200},
    (NOV, "c_browser"): {"sessions_last_30_days": 4, "orders_count": 0},
    (NOV, "c_new"): {
        "first_order_date": date(2026, 11, 12),
        "has_marketing_consent": True,
        "country_code": "GB",
        "orders_count": 1,
    },
    (NOV, "c_de"): {"country_code": "DE", "preferred_category": "electronics", "orders_count": 7},
    (NOV, "c_prospect"): {"orders_count": 0, "sessions_last_30_days": 0},
    (NOV, "c_slipping"): {"orders_count": 8, "net_revenue": 3000},
    (NOV, "c_valued_alive"): {"orders_count": 8, "net_revenue": 3000},
}
# customer_predictions: the CLV model's forecasts, the latest as-of date only (one fit per run)
PREDICTIONS: dict[str, dict[str, Any]] = {
    "c_slipping": {"probability_alive": 0.2, "predicted_clv_365_days": 800.0},
    "c_valued_alive": {"probability_alive": 0.9, "predicted_clv_365_days": 900.0},
    "c_vip": {"probability_alive": 0.25, "predicted_clv_365_days": 400.0},
    "c_lapsed": {"probability_alive": 0.1, "predicted_clv_365_days": 20.0},
}
# customer_segments: the latest as-of date only, one row per customer known on it
LABELS: dict[str, dict[str, Any]] = {
    **{key: {} for (as_of, key) in FACTS if as_of == NOV},
    "c_vip": {"rfm_segment": "Can't Lose Them", "m_score": 5},
    "c_de": {"rfm_segment": "Champions", "m_score": 3},
    "c_pl_regular": {"rfm_segment": "Loyal Customers", "m_score": 3},
}
# The members each shipped example must find on NOV.
EXPECTED_ON_NOV = {
    "polish_repeat_buyers": {"c_pl_regular"},
    "lapsed_high_spenders": {"c_lapsed"},
    "young_bargain_hunters": {"c_young"},
    "vips_at_risk": {"c_vip"},
    "engaged_browsers_never_bought": {"c_browser"},
    "new_customers_welcome_series": {"c_new"},
    "german_champions_cross_sell": {"c_de"},
    "valuable_and_slipping_away": {"c_slipping"},
}


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    """The real catalogue: the columns dbt_project/models/marts/**/*.yml declare."""
    found = load_catalogue()
    if found.missing_models:
        pytest.fail(
            f"no dbt YAML under dbt_project/models/marts declares {found.missing_models} with "
            "columns and data_type; the dynamic segments are validated against it."
        )
    return found


def create_marts(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> None:
    """Empty marts.customer_facts / customer_segments / customer_predictions and
    meta.run_as_of_dates."""
    con.execute("create schema if not exists marts")
    con.execute("create schema if not exists meta")
    con.execute("create or replace table meta.run_as_of_dates (as_of_date date not null)")
    for model in MODELS:
        columns = ["customer_key varchar", "as_of_date date"] + [
            f"{quote_ident(c.name)} {c.data_type}"
            for c in catalogue.columns.values()
            if c.model == model
        ]
        con.execute(f"create or replace table marts.{model} ({', '.join(columns)})")


def insert_rows(
    con: duckdb.DuckDBPyConnection, table: str, rows: Iterable[Mapping[str, Any]]
) -> None:
    for row in rows:
        names = ", ".join(quote_ident(name) for name in row)
        marks = ", ".join("?" for _ in row)
        con.execute(f"insert into {table} ({names}) values ({marks})", list(row.values()))


def set_run_dates(con: duckdb.DuckDBPyConnection, dates: Iterable[date]) -> None:
    con.execute("delete from meta.run_as_of_dates")
    con.executemany("insert into meta.run_as_of_dates values (?)", [(d,) for d in dates])


def set_labels(
    con: duckdb.DuckDBPyConnection, as_of: date, labels: Mapping[str, Mapping[str, Any]]
) -> None:
    """Replace customer_segments with one row per customer for one as-of date."""
    con.execute(f"delete from marts.{LABELS_MODEL}")
    insert_rows(
        con,
        f"marts.{LABELS_MODEL}",
        ({"customer_key": key, "as_of_date": as_of, **values} for key, values in labels.items()),
    )


@pytest.fixture()
def build_db(tmp_path: Path, catalogue: Catalogue) -> Path:
    """A build database holding FACTS and LABELS, with the run computing MAY and NOV."""
    path = tmp_path / "build.duckdb"
    with duckdb.connect(str(path)) as con:
        create_marts(con, catalogue)
        insert_rows(
            con,
            f"marts.{FACTS_MODEL}",
            (
                {"customer_key": key, "as_of_date": as_of, **facts}
                for (as_of, key), facts in FACTS.items()
            ),
        )
        set_labels(con, NOV, LABELS)
        insert_rows(
            con,
            f"marts.{PREDICTIONS_MODEL}",
            ({"customer_key": k, "as_of_date": NOV, **v} for k, v in PREDICTIONS.items()),
        )
        set_run_dates(con, [MAY, NOV])
    return path


def segment(
    catalogue: Catalogue, conditions: Mapping[str, Any], name: str = "test_segment"
) -> SegmentDefinition:
    """A definition from a conditions tree, through the same parser as the files."""
    text = yaml.safe_dump(
        {"name": name, "description": "A test segment.", "conditions": conditions}
    )
    return parse_definition(text, Path(f"{name}.yml"), catalogue)


def members(con: duckdb.DuckDBPyConnection, name: str, as_of: date) -> set[str]:
    rows = con.execute(
        "select customer_key from marts.dynamic_segment_members"
        " where segment_name = ? and as_of_date = ?",
        [name, as_of],
    ).fetchall()
    return {row[0] for row in rows}


def fingerprint(path: Path) -> dict[str, tuple[int, str]]:
    """Row count and content hash of every table in the database: equal means unchanged."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables order by 1, 2"
        ).fetchall()
        return {
            f"{schema}.{table}": con.execute(
                f"select count(*), coalesce(md5(string_agg(cast(t as varchar), chr(10) "
                f"order by cast(t as varchar))), '') "
                f"from {quote_ident(schema)}.{quote_ident(table)} as t"
            ).fetchone()
            for schema, table in tables
        }
