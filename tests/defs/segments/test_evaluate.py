"""pipelines/defs/segments/evaluate.py: members in a real (small) build database."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.segments.catalogue import FACTS_MODEL, LABELS_MODEL, Catalogue
from pipelines.defs.segments.dynamic import (
    DEFAULT_DEFINITIONS_DIR,
    SegmentDefinitionError,
    load_definitions,
)
from pipelines.defs.segments.evaluate import WarehouseNotReadyError, evaluate_segments
from pipelines.settings import PROJECT_ROOT

from .conftest import (
    EXPECTED_ON_NOV,
    LABELS,
    MAY,
    NOV,
    create_marts,
    fingerprint,
    insert_rows,
    members,
    segment,
    set_labels,
    set_run_dates,
)

BAD = PROJECT_ROOT / "tests" / "fixtures" / "segments_bad"


def _run(build_db: Path, definitions: list) -> list:
    with duckdb.connect(str(build_db)) as con:
        return evaluate_segments(con, definitions)


def test_every_shipped_example_has_expected_members(catalogue: Catalogue) -> None:
    names = {d.name for d in load_definitions(DEFAULT_DEFINITIONS_DIR, catalogue)}

    assert names == set(EXPECTED_ON_NOV), "add a customer for each new example to conftest.FACTS"


@pytest.mark.parametrize("name", sorted(EXPECTED_ON_NOV))
def test_shipped_example_finds_its_customers(
    catalogue: Catalogue, build_db: Path, name: str
) -> None:
    results = {
        r.name: r for r in _run(build_db, load_definitions(DEFAULT_DEFINITIONS_DIR, catalogue))
    }

    with duckdb.connect(str(build_db), read_only=True) as con:
        assert members(con, name, NOV) == EXPECTED_ON_NOV[name]
    assert results[name].members == len(EXPECTED_ON_NOV[name])
    assert results[name].latest_as_of_date == NOV


def test_relative_dates_resolve_against_each_as_of_date(
    catalogue: Catalogue, build_db: Path
) -> None:
    # c_pl_faded last ordered on 2026-05-01 on both dates: 30 days before MAY, 205 before NOV
    recent = segment(
        catalogue,
        {"all": [{"column": "last_order_date", "op": ">=", "value": "90 days ago"}]},
        "recent",
    )
    lapsed = segment(
        catalogue,
        {"all": [{"column": "last_order_date", "op": "<", "value": "6 months ago"}]},
        "lapsed",
    )

    _run(build_db, [recent, lapsed])

    with duckdb.connect(str(build_db), read_only=True) as con:
        assert members(con, "recent", MAY) == {"c_pl_regular", "c_pl_faded", "c_lapsed"}
        assert members(con, "recent", NOV) == {"c_pl_regular"}
        assert members(con, "lapsed", MAY) == set()
        # 6 months before NOV is 2026-05-22: last orders on 04-01 and 05-01 are older
        assert members(con, "lapsed", NOV) == {"c_lapsed", "c_pl_faded"}


def test_relative_date_boundaries(catalogue: Catalogue, tmp_path: Path) -> None:
    # day N is in "the last N days" (as in customer_facts); month arithmetic clamps to month end
    as_of = date(2024, 3, 31)
    db = tmp_path / "build.duckdb"
    with duckdb.connect(str(db)) as con:
        create_marts(con, catalogue)
        insert_rows(
            con,
            f"marts.{FACTS_MODEL}",
            [
                {
                    "customer_key": "day_90",
                    "as_of_date": as_of,
                    "last_order_date": date(2024, 1, 1),
                },
                {
                    "customer_key": "day_91",
                    "as_of_date": as_of,
                    "last_order_date": date(2023, 12, 31),
                },
                {
                    "customer_key": "feb_29",
                    "as_of_date": as_of,
                    "last_order_date": date(2024, 2, 29),
                },
                {
                    "customer_key": "feb_28",
                    "as_of_date": as_of,
                    "last_order_date": date(2024, 2, 28),
                },
            ],
        )
        set_run_dates(con, [as_of])
    days = segment(
        catalogue,
        {"all": [{"column": "last_order_date", "op": ">=", "value": "90 days ago"}]},
        "days",
    )
    month = segment(
        catalogue,
        {"all": [{"column": "last_order_date", "op": ">=", "value": "1 month ago"}]},
        "month",
    )

    _run(db, [days, month])

    with duckdb.connect(str(db), read_only=True) as con:
        assert members(con, "days", as_of) == {"day_90", "feb_29", "feb_28"}
        assert members(con, "month", as_of) == {"feb_29"}


def test_between_in_not_in_and_contains(catalogue: Catalogue, build_db: Path) -> None:
    definitions = [
        segment(
            catalogue,
            {"all": [{"column": "orders_count", "op": "between", "value": [4, 6]}]},
            "four_to_six",
        ),
        segment(
            catalogue,
            {"all": [{"column": "country_code", "op": "in", "value": ["DE", "GB"]}]},
            "de_gb",
        ),
        # not in (like !=) never matches a missing value: c_browser and c_prospect have no country
        segment(
            catalogue,
            {"all": [{"column": "country_code", "op": "not in", "value": ["PL", "DE", "GB"]}]},
            "elsewhere",
        ),
        segment(
            catalogue,
            {"all": [{"column": "preferred_category", "op": "contains", "value": "TRON"}]},
            "tronics",
        ),
        segment(
            catalogue,
            {
                "any": [
                    {"column": "rfm_segment", "op": "=", "value": "Can't Lose Them"},
                    {"column": "age_band", "op": "=", "value": "25-34"},
                ]
            },
            "either",
        ),
    ]

    _run(build_db, definitions)

    with duckdb.connect(str(build_db), read_only=True) as con:
        assert members(con, "four_to_six", NOV) == {
            "c_pl_regular",
            "c_pl_faded",
            "c_lapsed",
            "c_young",
        }
        assert members(con, "de_gb", NOV) == {"c_de", "c_new"}
        assert members(con, "elsewhere", NOV) == {"c_young", "c_vip"}
        assert members(con, "tronics", NOV) == {"c_de"}
        assert members(con, "either", NOV) == {"c_vip", "c_young"}


def test_rerunning_the_same_as_of_dates_is_idempotent(catalogue: Catalogue, build_db: Path) -> None:
    definitions = load_definitions(DEFAULT_DEFINITIONS_DIR, catalogue)

    _run(build_db, definitions)
    first = fingerprint(build_db)
    _run(build_db, definitions)

    assert fingerprint(build_db) == first


def test_history_accumulates_across_runs(catalogue: Catalogue, build_db: Path) -> None:
    recent = segment(
        catalogue,
        {"all": [{"column": "last_order_date", "op": ">=", "value": "90 days ago"}]},
        "recent",
    )
    with duckdb.connect(str(build_db)) as con:
        set_run_dates(con, [MAY])
        evaluate_segments(con, [recent])
        set_run_dates(con, [NOV])
        evaluate_segments(con, [recent])

        assert members(con, "recent", MAY) == {"c_pl_regular", "c_pl_faded", "c_lapsed"}
        assert members(con, "recent", NOV) == {"c_pl_regular"}


def test_label_segments_keep_rows_of_dates_without_labels(
    catalogue: Catalogue, build_db: Path
) -> None:
    # a daily run on MAY had labels for MAY; a later backfill over MAY..NOV has labels for NOV only
    at_risk = segment(
        catalogue,
        {"all": [{"column": "rfm_segment", "op": "=", "value": "Champions"}]},
        "champions",
    )
    with duckdb.connect(str(build_db)) as con:
        set_labels(con, MAY, {"c_lapsed": {"rfm_segment": "Champions"}})
        set_run_dates(con, [MAY])
        evaluate_segments(con, [at_risk])
        set_labels(con, NOV, LABELS)
        set_run_dates(con, [MAY, NOV])
        (result,) = evaluate_segments(con, [at_risk])

        assert members(con, "champions", MAY) == {"c_lapsed"}
        assert members(con, "champions", NOV) == {"c_de"}
    assert (result.as_of_dates, result.latest_as_of_date, result.members) == (1, NOV, 1)


def test_prediction_and_label_columns_combine_in_one_segment(
    catalogue: Catalogue, build_db: Path
) -> None:
    # facts, labels and predictions joined on (customer_key, as_of_date)
    vip_slipping = segment(
        catalogue,
        {
            "all": [
                {"column": "probability_alive", "op": "<", "value": 0.3},
                {"column": "m_score", "op": ">=", "value": 4},
                {"column": "orders_count", "op": ">", "value": 1},
            ]
        },
        "vip_slipping",
    )
    assert vip_slipping.joined_models == ("customer_predictions", "customer_segments")
    (result,) = _run(build_db, [vip_slipping])

    with duckdb.connect(str(build_db), read_only=True) as con:
        assert members(con, "vip_slipping", NOV) == {"c_vip"}
        assert members(con, "vip_slipping", MAY) == set()
    assert (result.as_of_dates, result.latest_as_of_date) == (1, NOV)


def test_a_date_without_predictions_keeps_the_members_recorded_for_it(
    catalogue: Catalogue, build_db: Path
) -> None:
    # A rerun of NOV whose CLV fit failed its gates wrote no predictions for NOV (the model
    # step leaves the table as it was); here the table lost NOV altogether: the segment must
    # keep the members the earlier run recorded instead of being emptied.
    slipping = segment(
        catalogue,
        {"all": [{"column": "probability_alive", "op": "<", "value": 0.3}]},
        "slipping",
    )
    with duckdb.connect(str(build_db)) as con:
        evaluate_segments(con, [slipping])
        assert members(con, "slipping", NOV) == {"c_slipping", "c_vip", "c_lapsed"}
        con.execute("delete from marts.customer_predictions")
        (result,) = evaluate_segments(con, [slipping])

        assert members(con, "slipping", NOV) == {"c_slipping", "c_vip", "c_lapsed"}
    assert result.as_of_dates == 0


def test_a_removed_definition_loses_its_rows_for_the_run_dates_only(
    catalogue: Catalogue, build_db: Path
) -> None:
    keep = segment(catalogue, {"all": [{"column": "orders_count", "op": ">", "value": 0}]}, "keep")
    gone = segment(catalogue, {"all": [{"column": "orders_count", "op": ">", "value": 0}]}, "gone")
    with duckdb.connect(str(build_db)) as con:
        evaluate_segments(con, [keep, gone])
        set_run_dates(con, [NOV])
        evaluate_segments(con, [keep])

        assert members(con, "gone", MAY) != set()
        assert members(con, "gone", NOV) == set()
        assert con.execute("select segment_name from marts.dynamic_segments").fetchall() == [
            ("keep",)
        ]


def test_definitions_table_describes_each_segment(catalogue: Catalogue, build_db: Path) -> None:
    _run(build_db, load_definitions(DEFAULT_DEFINITIONS_DIR, catalogue))

    with duckdb.connect(str(build_db), read_only=True) as con:
        row = con.execute(
            "select description, definition_file, conditions::json ->> '$.all[0].column', "
            "uses_segment_labels, as_of_date, member_count "
            "from marts.dynamic_segments where segment_name = 'vips_at_risk'"
        ).fetchone()
    assert row[1] == "dbt_project/segments/vips_at_risk.yml"
    assert row[2:] == ("rfm_segment", True, NOV, 1)


@pytest.mark.parametrize("file", sorted(p.name for p in BAD.glob("*.yml")))
def test_a_bad_definition_changes_nothing_in_the_warehouse(
    catalogue: Catalogue, build_db: Path, tmp_path: Path, file: str
) -> None:
    _run(build_db, load_definitions(DEFAULT_DEFINITIONS_DIR, catalogue))
    before = fingerprint(build_db)
    folder = tmp_path / "segments"
    folder.mkdir()
    for good in DEFAULT_DEFINITIONS_DIR.glob("*.yml"):
        (folder / good.name).write_bytes(good.read_bytes())
    (folder / file).write_bytes((BAD / file).read_bytes())

    with pytest.raises(SegmentDefinitionError, match=file):
        _run(build_db, load_definitions(folder, catalogue))

    assert fingerprint(build_db) == before


def test_bound_values_cannot_run_sql_even_past_validation(
    catalogue: Catalogue, build_db: Path
) -> None:
    # validation refuses SQL-looking text; this proves the second wall: values are parameters
    definition = segment(
        catalogue, {"all": [{"column": "city", "op": "=", "value": "Warsaw"}]}, "evil"
    )
    (leaf,) = definition.leaves()
    evil_leaf = dataclasses.replace(leaf, values=("x'; drop table marts.customer_facts; --",))
    evil = dataclasses.replace(
        definition, conditions=dataclasses.replace(definition.conditions, items=(evil_leaf,))
    )
    before = fingerprint(build_db)

    (result,) = _run(build_db, [evil])

    after = fingerprint(build_db)
    assert result.members == 0
    assert after[f"marts.{FACTS_MODEL}"] == before[f"marts.{FACTS_MODEL}"]


def test_a_column_missing_from_the_built_table_fails_clearly_and_changes_nothing(
    catalogue: Catalogue, build_db: Path
) -> None:
    with duckdb.connect(str(build_db)) as con:
        con.execute(f"alter table marts.{LABELS_MODEL} drop column m_score")
    before = fingerprint(build_db)
    definitions = load_definitions(DEFAULT_DEFINITIONS_DIR, catalogue)

    with pytest.raises(
        WarehouseNotReadyError,
        match="marts.customer_segments has no column m_score .used by vips_at_risk",
    ):
        _run(build_db, definitions)

    assert fingerprint(build_db) == before
