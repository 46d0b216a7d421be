"""pipelines/defs/segments/dynamic.py: parsing, validation and compilation (no warehouse)."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.defs.segments.catalogue import Catalogue, CatalogueError, Column, Kind
from pipelines.defs.segments.definition import RelativeDate
from pipelines.defs.segments.dynamic import (
    DEFAULT_DEFINITIONS_DIR,
    SegmentDefinitionError,
    compile_segment,
    load_definitions,
    parse_definition,
    read_definition_text,
)
from pipelines.settings import PROJECT_ROOT

from .conftest import segment

BAD = PROJECT_ROOT / "tests" / "fixtures" / "segments_bad"


def _problems(folder_or_file: Path, catalogue: Catalogue) -> list[str]:
    with pytest.raises(SegmentDefinitionError) as error:
        if folder_or_file.is_dir():
            load_definitions(folder_or_file, catalogue)
        else:
            parse_definition(read_definition_text(folder_or_file), folder_or_file, catalogue)
    return [str(problem) for problem in error.value.problems]


def test_every_shipped_example_validates_and_compiles(catalogue: Catalogue) -> None:
    definitions = load_definitions(DEFAULT_DEFINITIONS_DIR, catalogue)

    assert len(definitions) >= 5
    for definition in definitions:
        compiled = compile_segment(definition)
        assert compiled.predicate.count("?") == len(compiled.params)
        # no analyst text in the SQL: every string value is a parameter
        for value in compiled.params:
            if isinstance(value, str):
                assert value not in compiled.predicate


# (file, condition path, words the message must hold)
BAD_CASES = [
    (
        "unknown_column.yml",
        "conditions.all[1]",
        ["unknown column 'contry'", "Did you mean 'country_code'", "Columns you can use:"],
    ),
    (
        "type_mismatch.yml",
        "conditions.all[0]",
        ["'three' is not a whole number", "orders_count", "without quotes, e.g. 3"],
    ),
    ("sql_in_value.yml", "conditions.all[1]", ["looks like SQL", "drop table x", "plain data"]),
    (
        "unknown_operator.yml",
        "conditions.any[0]",
        ["unknown operator '=='", "Did you mean '='", "Operators: =, !="],
    ),
    (
        "bad_structure.yml",
        "conditions.all[1]",
        ["a group has exactly one key, all or any", "[all, any]"],
    ),
    (
        "operator_not_for_type.yml",
        "conditions.all[0]",
        ["'contains' does not apply to orders_count", "use: =, !=, in"],
    ),
    (
        "bad_relative_date.yml",
        "conditions.all[0]",
        ["'half a year ago' is not a date", "'6 months ago'"],
    ),
    (
        "nested_anchors.yml",
        "(file)",
        ["not valid YAML", "expands to more than 10,000 values", "out plainly."],
    ),
    (
        "latin1_encoding.yml",
        "(file)",
        ["line 3,", "is not UTF-8 (byte 0xf1 at offset", "save it as UTF-8"],
    ),
    (
        "unquoted_norway.yml",
        "conditions.all[0]",
        ["YAML read the value as false", "quote the value", "'NO'"],
    ),
]


def test_every_bad_fixture_has_a_case() -> None:
    assert {case[0] for case in BAD_CASES} == {p.name for p in BAD.glob("*.yml")}


@pytest.mark.parametrize(("file", "path", "words"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_definition_fails_naming_file_line_and_condition(
    catalogue: Catalogue, file: str, path: str, words: list[str]
) -> None:
    (problem,) = _problems(BAD / file, catalogue)

    assert problem.startswith(f"tests/fixtures/segments_bad/{file}, line ")
    assert f", {path}: " in problem
    for word in words:
        assert word in problem


def test_every_problem_of_every_file_is_reported_at_once(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    for name in ("unknown_column.yml", "sql_in_value.yml"):
        shutil.copy(BAD / name, tmp_path / name)
    (tmp_path / "two_problems.yml").write_text(
        "name: Two Problems\n"
        "conditions:\n"
        "  all:\n"
        "    - {column: orders_count, op: '>', value: '3'}\n"
    )

    problems = _problems(tmp_path, catalogue)

    assert len(problems) == 5
    assert any("two_problems.yml, line 1, name: name must be a slug" in p for p in problems)
    assert any("two_problems.yml, line 1, description: add a description" in p for p in problems)
    assert any("two_problems.yml, line 4, conditions.all[0]" in p for p in problems)


def test_duplicate_segment_names_are_refused(catalogue: Catalogue, tmp_path: Path) -> None:
    text = (
        "name: twins\ndescription: Same name twice.\n"
        "conditions: {all: [{column: orders_count, op: '>', value: 0}]}\n"
    )
    (tmp_path / "a.yml").write_text(text)
    (tmp_path / "b.yaml").write_text(text)

    (problem,) = _problems(tmp_path, catalogue)

    assert "b.yaml" in problem and "'twins' is already used by" in problem and "a.yml" in problem


@pytest.mark.parametrize(
    ("conditions", "words"),
    [
        ([{"column": "orders_count", "op": ">", "value": 1}], "it is a list: put it under all:"),
        (
            {"and": [{"column": "orders_count", "op": ">", "value": 1}]},
            "conditions must be one group",
        ),
        ({"all": []}, "all: needs a non-empty list"),
        ({"all": ["orders_count > 3"]}, "expected a condition {column, op, value} or a group"),
        ({"all": [{"not": [{"column": "city", "op": "=", "value": "Oslo"}]}]}, "There is no not"),
        (
            {"all": [{"column": "city", "op": "=", "valeu": "Oslo"}]},
            "unknown key 'valeu'. Did you mean 'value'?",
        ),
        ({"all": [{"column": "city", "op": "is null", "value": "Oslo"}]}, "is null takes no value"),
        ({"all": [{"column": "city", "op": "="}]}, "= needs a value"),
        ({"all": [{"column": "city", "op": "in", "value": "Oslo"}]}, "in needs a non-empty list"),
        ({"all": [{"column": "city", "op": "=", "value": ["Oslo", "Bergen"]}]}, "use op: in"),
        (
            {"all": [{"column": "orders_count", "op": "between", "value": [5, 2]}]},
            "5 comes after 2: swap them",
        ),
        (
            {
                "all": [
                    {
                        "column": "last_order_date",
                        "op": "between",
                        "value": ["30 days ago", "90 days ago"],
                    }
                ]
            },
            "swap them",
        ),
        (
            {"all": [{"column": "orders_count", "op": "between", "value": [1, 2, 3]}]},
            "two values [low, high]",
        ),
        ({"all": [{"column": "orders_count", "op": ">=", "value": 2.5}]}, "not a whole number"),
        ({"all": [{"column": "net_revenue", "op": ">=", "value": True}]}, "is not a number"),
        (
            {"all": [{"column": "has_marketing_consent", "op": "=", "value": "yes"}]},
            "write true or false without quotes",
        ),
        (
            {"all": [{"column": "has_marketing_consent", "op": ">", "value": True}]},
            "does not apply to has_marketing_consent",
        ),
        (
            {"all": [{"column": "country_code", "op": "between", "value": ["A", "M"]}]},
            "'between' does not apply to country_code",
        ),
        (
            {"all": [{"column": "last_order_date", "op": "=", "value": "2024-02-30"}]},
            "is not a date",
        ),
        ({"all": [{"column": "city", "op": "=", "value": None}]}, "use op: is null"),
    ],
)
def test_malformed_conditions_say_what_is_allowed(
    catalogue: Catalogue, conditions: object, words: str
) -> None:
    with pytest.raises(SegmentDefinitionError) as error:
        segment(catalogue, conditions)

    assert words in str(error.value)


@pytest.mark.parametrize(
    "value",
    [
        "'; drop table x; --",
        "x' or '1'='1",
        "PL'; delete from marts.customer_facts",
        "PL /* comment */",
        "PL -- the rest",
        "drop table marts.customer_facts",
        "1 union select customer_key from marts.customer_facts",
        "attach 'evil.duckdb'",
    ],
)
def test_sql_looking_text_is_refused_with_its_own_message(catalogue: Catalogue, value: str) -> None:
    with pytest.raises(SegmentDefinitionError, match="looks like SQL"):
        segment(catalogue, {"all": [{"column": "city", "op": "=", "value": value}]})


@pytest.mark.parametrize(
    "value", ["Can't Lose Them", "O'Brien", "Drop Shipping", "copy paper", "Rock 'n' Roll", "25-34"]
)
def test_ordinary_text_with_quotes_or_sql_words_is_accepted(
    catalogue: Catalogue, value: str
) -> None:
    definition = segment(catalogue, {"all": [{"column": "city", "op": "in", "value": [value]}]})

    assert compile_segment(definition).params == (value,)


def test_values_are_typed_for_their_column(catalogue: Catalogue) -> None:
    definition = segment(
        catalogue,
        {
            "all": [
                {"column": "net_revenue", "op": ">=", "value": 0.1},
                {"column": "orders_count", "op": "in", "value": [1, 2]},
                {"column": "signup_date", "op": ">=", "value": "2024-01-31"},
                {"column": "first_order_date", "op": "<", "value": date(2025, 1, 1)},
                {"column": "last_order_date", "op": "between", "value": ["2 weeks ago", "Today"]},
                {"column": "last_engagement_date", "op": ">", "value": "1 year ago"},
                {"column": "has_marketing_consent", "op": "=", "value": True},
            ]
        },
    )

    assert [leaf.values for leaf in definition.leaves()] == [
        (Decimal("0.1"),),
        (1, 2),
        (date(2024, 1, 31),),
        (date(2025, 1, 1),),
        (RelativeDate(2, "week"), RelativeDate(0, "day")),
        (RelativeDate(1, "year"),),
        (True,),
    ]


def test_unquoted_operators_and_dates_read_as_written(catalogue: Catalogue) -> None:
    text = (
        "name: plain_yaml\n"
        "description: Operators and dates without quotes.\n"
        "conditions:\n"
        "  all:\n"
        "    - column: country_code\n"
        "      op: =\n"
        "      value: PL\n"
        "    - {column: signup_date, op: between, value: [2024-01-01, 2024-12-31]}\n"
        "    - {column: city, op: NOT  IN, value: [Warsaw]}\n"
    )

    definition = parse_definition(text, Path("plain_yaml.yml"), catalogue)

    assert [(leaf.op, leaf.values) for leaf in definition.leaves()] == [
        ("=", ("PL",)),
        ("between", (date(2024, 1, 1), date(2024, 12, 31))),
        ("not in", ("Warsaw",)),
    ]


def test_invalid_yaml_names_the_line(catalogue: Catalogue, tmp_path: Path) -> None:
    file = tmp_path / "broken.yml"
    file.write_text(
        "name: broken\ndescription: x\nconditions:\n  all:\n"
        "    - {column: orders_count, op: >=, value: 3}\n"
    )

    (problem,) = _problems(file, catalogue)

    assert "broken.yml, line 5, (file): not valid YAML" in problem
    assert "Quote operators such as '>='" in problem


def test_duplicate_keys_in_one_condition_are_refused(catalogue: Catalogue, tmp_path: Path) -> None:
    file = tmp_path / "twice.yml"
    file.write_text(
        "name: twice\ndescription: x\nconditions:\n  all:\n"
        "    - {column: city, op: '=', value: A, value: B}\n"
    )

    (problem,) = _problems(file, catalogue)

    assert "key 'value' appears twice" in problem


def test_accepted_values_catch_misspelt_labels() -> None:
    label = Column(
        "lifecycle_status",
        "customer_segments",
        "varchar",
        Kind.TEXT,
        Path("_segments.yml"),
        ("new", "active", "former"),
    )
    catalogue = Catalogue(columns={"lifecycle_status": label})

    with pytest.raises(SegmentDefinitionError) as error:
        segment(
            catalogue,
            {"any": [{"column": "lifecycle_status", "op": "in", "value": ["active", "formr"]}]},
        )

    message = str(error.value)
    assert "never has the value 'formr'. Did you mean 'former'?" in message
    assert "Its values are: new, active, former" in message


def test_unknown_column_says_why_when_the_yaml_lacks_a_type() -> None:
    catalogue = Catalogue(
        columns={},
        unusable={
            "engagement_score": "customer_segments.engagement_score is declared in x.yml "
            "without a data_type; add one there to use it in segments"
        },
    )

    with pytest.raises(SegmentDefinitionError, match="without a data_type; add one there"):
        segment(catalogue, {"all": [{"column": "engagement_score", "op": ">", "value": 50}]})


def test_compiled_sql_binds_values_and_quotes_catalogue_columns(catalogue: Catalogue) -> None:
    definition = segment(
        catalogue,
        {
            "any": [
                {"column": "rfm_segment", "op": "in", "value": ["Champions", "Can't Lose Them"]},
                {
                    "all": [
                        {"column": "city", "op": "contains", "value": "war"},
                        {"column": "last_order_date", "op": "<", "value": "6 months ago"},
                        {"column": "orders_count", "op": "between", "value": [2, 4]},
                        {"column": "gender", "op": "is not null"},
                    ]
                },
            ]
        },
    )

    compiled = compile_segment(definition)

    assert compiled.predicate == (
        '(labels."rfm_segment" in (?, ?) or (contains(lower(facts."city"), lower(?))'
        ' and facts."last_order_date"'
        " < cast(facts.as_of_date - to_months(cast(? as integer)) as date)"
        ' and facts."orders_count" between ? and ? and facts."gender" is not null))'
    )
    assert compiled.params == ("Champions", "Can't Lose Them", "war", 6, 2, 4)
    assert compiled.uses_labels


def test_conditions_json_is_the_normalised_tree(catalogue: Catalogue) -> None:
    definition = segment(
        catalogue,
        {
            "all": [
                {"column": "net_revenue", "op": ">=", "value": 1000},
                {"column": "last_order_date", "op": "<", "value": "6 Months ago"},
            ]
        },
    )

    assert definition.conditions_json() == (
        '{"all": [{"column": "net_revenue", "op": ">=", "value": 1000}, '
        '{"column": "last_order_date", "op": "<", "value": "6 months ago"}]}'
    )


def test_empty_folder_has_no_segments_and_a_missing_one_is_an_error(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    (tmp_path / "README.md").write_text("not a segment")

    assert load_definitions(tmp_path, catalogue) == []
    with pytest.raises(SegmentDefinitionError, match="SEGMENTS_DEFINITIONS_DIR"):
        load_definitions(tmp_path / "missing", catalogue)


def test_without_the_dbt_yaml_of_customer_facts_one_clear_error_is_raised() -> None:
    catalogue = Catalogue(columns={}, missing_models=("customer_facts", "customer_segments"))

    with pytest.raises(CatalogueError, match="declares the model customer_facts with"):
        load_definitions(DEFAULT_DEFINITIONS_DIR, catalogue)


def test_nested_anchors_are_refused_in_well_under_a_second(catalogue: Catalogue) -> None:
    # Regression: 14 lines of nested anchors took 117 s, 1.45 GB and a 38 MB error message.
    import time

    started = time.perf_counter()
    (problem,) = _problems(BAD / "nested_anchors.yml", catalogue)
    assert time.perf_counter() - started < 1
    assert len(problem) < 400


def test_a_folder_named_like_a_segment_file_is_named_not_a_crash(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    (tmp_path / "x.yml").mkdir()
    (problem,) = _problems(tmp_path, catalogue)
    assert problem.startswith(f"{tmp_path / 'x.yml'}, (file): is a folder")


def test_a_huge_file_is_refused_unread(catalogue: Catalogue, tmp_path: Path) -> None:
    (tmp_path / "big.yml").write_text("# " + "x" * 100_000 + "\nname: big\n")
    (problem,) = _problems(tmp_path, catalogue)
    assert "is larger than 64 KiB" in problem


def test_long_values_are_cut_in_messages(catalogue: Catalogue, tmp_path: Path) -> None:
    value = "Z" * 50_000
    (tmp_path / "long.yml").write_text(
        "name: long_value\ndescription: A long value.\nconditions:\n  all:\n"
        f"    - {{column: contry, op: '=', value: {value}}}\n"
    )
    (problem,) = _problems(tmp_path, catalogue)
    assert "unknown column" in problem.lower() or "contry" in problem
    assert len(problem) < 1200
    assert "more characters)" in problem


def test_the_anchor_refusal_gives_no_quoting_hint(catalogue: Catalogue) -> None:
    (problem,) = _problems(BAD / "nested_anchors.yml", catalogue)
    assert "Quote operators" not in problem
