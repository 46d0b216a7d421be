"""pipelines/lib/gx.py: real GX 1.x validations of small DataFrames against suite files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipelines.lib import gx
from tests.helpers import fresh_python


def write_suite(path: Path, expectations: list[dict], name: str = "test_suite") -> Path:
    path.write_text(json.dumps({"name": name, "meta": {}, "expectations": expectations}))
    return path


@pytest.fixture()
def orders_suite(tmp_path: Path) -> Path:
    return write_suite(
        tmp_path / "orders.json",
        [
            {
                "type": "expect_table_columns_to_match_set",
                "kwargs": {"column_set": ["order_id", "currency", "total"], "exact_match": False},
            },
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "order_id"},
                "description": "Every order has an id.",
            },
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "order_id"}},
            {
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {"column": "currency", "value_set": {"$PARAMETER": "known_currencies"}},
            },
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "total", "min_value": 0, "max_value": 10_000},
            },
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "email", "mostly": 0.9},
                "severity": "warning",
                "meta": {"mask_examples": True},
            },
            {
                "type": "expect_column_values_to_match_regex",
                "kwargs": {"column": "email", "regex": "^[^@]+@[^@]+$"},
                "severity": "warning",
                "meta": {"mask_examples": True},
            },
        ],
    )


PARAMS = {"known_currencies": ["EUR", "USD"]}


def good_orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": ["1", "2", "3"],
            "currency": ["EUR", "USD", "EUR"],
            "total": [10.0, 20.5, 0.0],
            "email": ["a@x.com", "b@y.org", "c@z.net"],
        }
    )


def test_conforming_frame_passes_every_expectation(orders_suite: Path) -> None:
    result = gx.validate_dataframe(good_orders(), orders_suite, parameters=PARAMS)

    assert result.success
    assert result.rows == 3
    assert result.evaluated == 7
    assert result.failed == ()
    assert "All 7 expectations passed" in gx.failures_markdown(result)


def test_failure_names_expectation_count_and_examples(orders_suite: Path) -> None:
    df = pd.DataFrame(
        {
            "order_id": ["1", "2", "2", "4", "5"],
            "currency": ["EUR", "XXX", "usd", "XXX", "EUR"],
            "total": [10.0, -5.0, 20.0, 30.0, 99_999.0],
            "email": ["a@x.com", None, "not-an-email", "d@x.com", "e@x.com"],
        }
    )

    result = gx.validate_dataframe(df, orders_suite, parameters=PARAMS)

    assert not result.success
    by_rule = {(f.expectation_type, f.column): f for f in result.failed}
    currency = by_rule[("expect_column_values_to_be_in_set", "currency")]
    assert currency.severity == "critical" and currency.blocking
    assert currency.unexpected_count == 3
    assert currency.element_count == 5
    assert dict(currency.examples) == {"XXX": 2, "usd": 1}
    total = by_rule[("expect_column_values_to_be_between", "total")]
    assert total.unexpected_count == 2
    assert {v for v, _ in total.examples} == {"-5.0", "99999.0"}
    unique = by_rule[("expect_column_values_to_be_unique", "order_id")]
    assert unique.unexpected_count == 2 and unique.examples == (("2", 2),)
    # Warnings are reported, masked (PII), and kept apart from the blocking verdict.
    regex = by_rule[("expect_column_values_to_match_regex", "email")]
    assert regex.severity == "warning" and regex.examples == (("n***", 1),)
    blocking = result.only("critical")
    assert {f.severity for f in blocking.failed} == {"critical"}
    assert blocking.evaluated == 5
    warnings = result.only("warning", "info")
    assert [f.column for f in warnings.failed] == ["email", "email"]

    markdown = gx.failures_markdown(result)
    row = (
        "| critical | `expect_column_values_to_be_in_set` | currency | 3 of 5 | `XXX` ×2, `usd` ×1"
    )
    assert row in markdown
    assert "not-an-email" not in markdown
    assert gx.summary_line(blocking).startswith("3 of 5 expectations failed on 5 rows")


def test_missing_column_fails_with_gx_error_and_schema_lists_it(orders_suite: Path) -> None:
    df = good_orders().drop(columns=["currency"])

    result = gx.validate_dataframe(df, orders_suite, parameters=PARAMS)

    by_rule = {(f.expectation_type, f.column): f for f in result.failed}
    schema = by_rule[("expect_table_columns_to_match_set", None)]
    assert schema.observed_value == "missing columns: currency"
    in_set = by_rule[("expect_column_values_to_be_in_set", "currency")]
    assert 'The column "currency" in BatchData does not exist' in in_set.error
    assert "error: The column" in gx.failures_markdown(result)


def test_result_metadata_renders_markdown_for_dagster(orders_suite: Path) -> None:
    df = good_orders().assign(total=[1.0, 2.0, -1.0])

    metadata = gx.result_metadata(gx.validate_dataframe(df, orders_suite, parameters=PARAMS))

    assert metadata["expectations_failed"].value == 1
    assert metadata["rows_validated"].value == 3
    assert (
        "`expect_column_values_to_be_between` | total | 1 of 3 | `-1.0` ×1"
        in metadata["failed_expectations"].value
    )


def test_profile_failure_names_metric_observed_value_bound_and_action(tmp_path: Path) -> None:
    suite = write_suite(
        tmp_path / "profile.json",
        [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "null_share(email)", "max_value": 0.5},
                "severity": "critical",
                "meta": {"action": "Fix the export's column mapping."},
            },
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "rows_vs_baseline", "min_value": 0.2, "max_value": 5},
                "severity": "warning",
            },
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "share_shift(currency)", "max_value": 0.2},
                "severity": "warning",
                "meta": {"min_rows": 100},
            },
        ],
    )
    values = {"rows": 40, "null_share(email)": 0.9, "rows_vs_baseline": None}
    values["share_shift(currency)"] = 0.7  # 40 rows: below min_rows, not judged

    result = gx.validate_profile(values, suite)

    assert result.profile and result.rows == 40 and result.evaluated == 3
    (failure,) = result.failed
    assert failure.column == "null_share(email)" and failure.observed_value == "0.9"
    assert failure.expected == "<= 0.5" and failure.blocking
    markdown = gx.failures_markdown(result)
    assert "| `null_share(email)` | 0.9 | <= 0.5 | Fix the export's column mapping. |" in markdown
    assert "observed 0.9, expected <= 0.5" in gx.summary_line(result.only("critical"))
    # No baseline yet: the null ratio passes; the GX metadata names the suite and counts.
    metadata = gx.result_metadata(result)
    assert metadata["expectations_failed"].value == 1


def test_suite_metrics_lists_the_metrics_and_rejects_unknown_ones(tmp_path: Path) -> None:
    good = write_suite(
        tmp_path / "good.json",
        [
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "rows"}},
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "duplicates(order_name, line)", "max_value": 0},
            },
        ],
    )
    bad = write_suite(
        tmp_path / "bad.json",
        [{"type": "expect_column_values_to_be_between", "kwargs": {"column": "nul_share(x)"}}],
    )

    assert gx.suite_metrics(good) == ["rows", "duplicates(order_name, line)"]
    with pytest.raises(gx.SuiteFileError, match=r"bad.json, expectation #1.*'nul_share\(x\)'"):
        gx.suite_metrics(bad)


def test_suite_is_cached_until_the_file_changes(orders_suite: Path) -> None:
    assert gx.load_suite(orders_suite) is gx.load_suite(orders_suite)
    data = json.loads(orders_suite.read_text())
    data["expectations"] = data["expectations"][:1]
    orders_suite.write_text(json.dumps(data))
    import os

    os.utime(orders_suite, ns=(1, 1))  # a different mtime, as an edit would give

    assert len(gx.load_suite(orders_suite).expectations) == 1


def test_bad_suite_file_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x", "expectations": [}')
    bad_severity = write_suite(
        tmp_path / "sev.json",
        [
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "a"},
                "severity": "fatal",
            },
        ],
    )

    with pytest.raises(gx.SuiteFileError, match="broken.json is not valid JSON"):
        gx.read_suite_json(broken)
    with pytest.raises(gx.SuiteFileError, match="sev.json, expectation #1.*'fatal'"):
        gx.suite_severities(bad_severity)
    with pytest.raises(gx.SuiteFileError, match="does not exist"):
        gx.validate_dataframe(good_orders(), tmp_path / "missing.json")


def test_unknown_expectation_type_names_the_file(tmp_path: Path) -> None:
    typo = write_suite(
        tmp_path / "typo.json",
        [{"type": "expect_column_values_to_be_nul", "kwargs": {"column": "a"}}],
    )

    with pytest.raises(gx.SuiteFileError, match="typo.json is not a valid GX 1.x suite"):
        gx.validate_dataframe(good_orders(), typo)


def test_prepared_in_the_background_validations_share_one_context(orders_suite: Path) -> None:
    """The ingest steps start `prepare_in_background`: it imports GX and builds the context
    on its own thread, and validations then use that context, never a second one."""
    code = (
        "import sys; from pathlib import Path; import pandas as pd; "
        "from pipelines.lib import gx; "
        "assert 'great_expectations' not in sys.modules; "
        "thread = gx.prepare_in_background(); "
        "assert gx.prepare_in_background() is thread; thread.join(); "
        "assert 'great_expectations' in sys.modules; "
        "assert gx._new_batch_definition.cache_info().misses == 1; "
        f"frame = pd.DataFrame({{'order_id': ['1'], 'currency': ['EUR'], 'total': [1.0], "
        f"'email': ['a@x.com']}}); "
        f"result = gx.validate_dataframe(frame, Path({str(orders_suite)!r}), "
        f"parameters={PARAMS!r}); "
        "assert result.success and result.evaluated == 7, result; "
        "assert gx._new_batch_definition.cache_info().misses == 1; print('ok')"
    )
    assert fresh_python(code) == "ok"
