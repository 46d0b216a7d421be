"""pipelines/lib/profile.py: metrics computed in DuckDB, checked against hand counts."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.lib.profile import MetricError, Scope, compute_profile, parse_metric


@pytest.fixture()
def con():
    with duckdb.connect() as con:
        con.execute("""
            CREATE TABLE t AS SELECT * FROM (VALUES
                -- the baseline: two loads of two rows
                (1, 'a@x', 'EUR', 10.0, 10.0, 1),
                (1, NULL,  'EUR', 20.0, 5.0, 2),
                (2, 'b@x', 'USD', 30.0, 0.0, 3),
                (2, 'c@x', 'EUR', 40.0, 50.0, 4),
                -- the batch: four rows, one duplicate key, one refund above its amount
                (3, NULL,  'USD', 100.0, 0.0, 5),
                (3, NULL,  'USD', 200.0, 250.0, 5),
                (3, 'd@x', 'USD', 300.0, 0.0, 6),
                (3, 'e@x', NULL,  400.0, 0.0, 7)
            ) AS v(load, email, currency, amount, refunded, id)
        """)
        yield con


def _scope(con) -> Scope:
    columns = [r[0] for r in con.execute("DESCRIBE t").fetchall()]
    return Scope(
        "t",
        columns,
        "load = ?",
        [3],
        baseline_relation="t",
        baseline_columns=columns,
        baseline="load < ?",
        baseline_params=[3],
        baseline_group="load",
        day_column="load",  # one "day" per load here
    )


def test_every_metric_against_hand_counts(con) -> None:
    metrics = [
        "rows",
        "rows_vs_baseline",
        "rows_per_day_vs_baseline",
        "columns_missing(email, phone, id)",
        "null_share(email)",
        "null_share(email where currency)",
        "null_share_change(email)",
        "distinct(currency)",
        "duplicates(id)",
        "min(amount)",
        "max(amount)",
        "mean(amount)",
        "mean_vs_baseline(amount)",
        "rows_where(refunded > amount)",
        "share(currency=USD)",
        "max_share(currency)",
        "share_shift(currency)",
        "null_share(phone)",
    ]

    v = compute_profile(con, _scope(con), metrics)

    assert v["rows"] == 4 and v["rows_vs_baseline"] == 2.0  # 4 rows vs 2 per load
    assert v["rows_per_day_vs_baseline"] == 2.0  # 4 rows on one day vs 2 per (load, day)
    assert v["columns_missing(email, phone, id)"] == 1
    assert v["null_share(email)"] == 0.5
    assert v["null_share(email where currency)"] == pytest.approx(2 / 3)
    assert v["null_share_change(email)"] == pytest.approx(0.5 - 0.25)
    assert v["distinct(currency)"] == 1 and v["duplicates(id)"] == 1
    assert (v["min(amount)"], v["max(amount)"], v["mean(amount)"]) == (100.0, 400.0, 250.0)
    assert v["mean_vs_baseline(amount)"] == pytest.approx(250 / 25)
    assert v["rows_where(refunded > amount)"] == 1
    assert v["share(currency=USD)"] == 0.75 and v["max_share(currency)"] == 1.0
    # batch: USD .75, NULL .25; baseline: EUR .75, USD .25 → TVD = (.5 + .25 + .75) / 2
    assert v["share_shift(currency)"] == pytest.approx(0.75)
    assert v["null_share(phone)"] is None  # no such column: null, columns_missing fails


def test_without_baseline_rows_baseline_metrics_are_null(con) -> None:
    scope = _scope(con)
    scope = Scope(**{**scope.__dict__, "baseline_params": [1]})  # no load before load 1

    v = compute_profile(con, scope, ["rows_vs_baseline", "share_shift(currency)", "rows"])

    assert v == {"rows_vs_baseline": None, "share_shift(currency)": None, "rows": 4}


@pytest.mark.parametrize(
    "text", ["nul_share(x)", "rows(x)", "null_share", "share(currency)", "rows_where(a ; b)"]
)
def test_bad_metric_names_say_why(text: str) -> None:
    with pytest.raises(MetricError):
        parse_metric(text)


def test_rows_where_takes_only_identifiers_and_a_known_operator() -> None:
    m = parse_metric("rows_where(max_value < min_value)")
    assert (m.columns, m.value) == (("max_value", "min_value"), "<")
    with pytest.raises(MetricError):
        parse_metric("rows_where(a < 1; drop table t)")
