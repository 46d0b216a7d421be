"""Great Expectations 1.x runner: validate a small pandas frame against a suite stored as JSON.

The product validates **aggregate profiles** (`validate_profile`): DuckDB computes the
metrics a suite names (`pipelines/lib/profile.py`) and GX checks the one-row frame of their
values, so no table rows ever reach pandas. (GX's SQL datasource was not used: it returned
wrong results on DuckDB through duckdb-engine, and a one-row frame needs no SQL engine.)
`validate_dataframe` validates any frame and is what `validate_profile` builds on.

Suites are the JSON files in `expectations/`, in GX 1.x's own format, editable by hand. Every
expectation carries GX's `severity`: `critical` expectations gate the publish (blocking asset
checks), `warning` and `info` ones are reported without blocking. A suite is validated once and
its result split by severity, so the blocking and the warning check share one validation.

Cost: importing great_expectations takes ~5 s (it pulls scipy, altair, sqlalchemy), so it is
imported lazily, never when the code location loads: on a background thread while a run's
ingest steps load (`prepare_in_background`), else on the first validation of a process.
After that one ephemeral context serves the whole process and suites are parsed once per file
version. A validation then costs ~7 ms per expectation (GX's Python bookkeeping): 0.1-0.3 s
per suite on a one-row profile.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from pipelines.lib.background import OnceInBackground

if TYPE_CHECKING:
    import pandas as pd

BLOCKING_SEVERITY = "critical"
SEVERITIES = ("critical", "warning", "info")
EXAMPLES_KEPT = 5  # unexpected example values kept per failed expectation
EXAMPLE_MAX_CHARS = 60
MASK = "***"

_COLUMN_KWARGS = ("column", "column_A", "column_B")


class SuiteFileError(ValueError):
    """A suite file is missing or is not a GX suite; the message names the file."""


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedExpectation:
    """One expectation that did not hold on the validated rows."""

    expectation_type: str
    column: str | None  # the column, "a, b" for multi-column rules, None for table-level rules
    severity: str  # critical | warning | info
    description: str | None  # the suite's own words for the rule, if it gave any
    unexpected_count: int | None  # rows that broke the rule (None for aggregate rules)
    element_count: int | None  # rows the rule looked at
    # (value, count) of a few offending values, counted among the first 20 GX reports
    examples: tuple[tuple[str, int], ...] = ()
    observed_value: str | None = None  # what an aggregate rule saw (e.g. a max, a column list)
    error: str | None = None  # GX could not evaluate the rule (e.g. a column is missing)
    expected: str | None = None  # the bounds or set the rule asked for, as the suite wrote it
    action: str | None = None  # what to do about a failure: the suite's `meta.action`
    min_rows: int | None = None  # profile rules: judged only on batches this large (meta)

    @property
    def blocking(self) -> bool:
        return self.severity == BLOCKING_SEVERITY


@dataclass(frozen=True)
class SuiteResult:
    """The outcome of validating rows against one suite file."""

    suite_name: str
    suite_path: Path
    rows: int
    evaluated: int  # expectations evaluated
    failed: tuple[FailedExpectation, ...] = ()
    seconds: float = 0.0  # time spent inside GX
    severities: tuple[str, ...] = SEVERITIES  # which expectations this result speaks for
    evaluated_by_severity: Mapping[str, int] = field(default_factory=dict)
    # True when the validated frame was an aggregate profile (one row of metrics, see
    # pipelines/lib/profile.py) rather than the table's rows: failures show metric values.
    profile: bool = False

    @property
    def success(self) -> bool:
        return not self.failed

    def only(self, *severities: str) -> SuiteResult:
        """The part of this result that concerns expectations of the given severities."""
        wanted = tuple(severities)
        return replace(
            self,
            failed=tuple(f for f in self.failed if f.severity in wanted),
            evaluated=sum(self.evaluated_by_severity.get(s, 0) for s in wanted),
            severities=wanted,
        )


# --------------------------------------------------------------------------------------------
# Suite files (plain JSON: readable without importing GX)
# --------------------------------------------------------------------------------------------


def read_suite_json(suite_path: os.PathLike | str) -> dict[str, Any]:
    """The suite file as a dict; raises SuiteFileError naming the file when it is unusable."""
    path = Path(suite_path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise SuiteFileError(f"expectation suite {path} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise SuiteFileError(
            f"expectation suite {path} is not valid JSON (line {exc.lineno}, column {exc.colno}): "
            f"{exc.msg}. Fix the file by hand; it is a Great Expectations 1.x suite."
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
        raise SuiteFileError(
            f"expectation suite {path} has no 'expectations' list; see any file in expectations/ "
            "for the expected shape."
        )
    for i, exp in enumerate(data["expectations"]):
        severity = exp.get("severity", BLOCKING_SEVERITY)
        if severity not in SEVERITIES:
            raise SuiteFileError(
                f"expectation suite {path}, expectation #{i + 1} ({exp.get('type')}): severity "
                f"{severity!r} is not one of {', '.join(SEVERITIES)}."
            )
    return data


def suite_severities(suite_path: os.PathLike | str) -> frozenset[str]:
    """Severities used in a suite (GX defaults a missing severity to critical)."""
    data = read_suite_json(suite_path)
    return frozenset(e.get("severity", BLOCKING_SEVERITY) for e in data["expectations"])


def suite_metrics(suite_path: os.PathLike | str) -> list[str]:
    """The metrics a profile suite names (the `column` kwarg of each expectation), in order.

    Raises SuiteFileError naming the file when one is not a metric of
    pipelines/lib/profile.py, so a typo stops the code location load, not a run.
    """
    from pipelines.lib.profile import MetricError, parse_metric

    path = Path(suite_path)
    metrics: list[str] = []
    for i, exp in enumerate(read_suite_json(path)["expectations"]):
        column = exp.get("kwargs", {}).get("column")
        if not isinstance(column, str):
            raise SuiteFileError(
                f"expectation suite {path}, expectation #{i + 1} ({exp.get('type')}): a profile "
                "suite validates metrics, so every expectation needs a `column` naming one "
                '(e.g. "null_share(email)"); see expectations/README.md.'
            )
        try:
            parse_metric(column)
        except MetricError as exc:
            raise SuiteFileError(
                f"expectation suite {path}, expectation #{i + 1} ({exp.get('type')}): {exc}"
            ) from exc
        metrics.append(column)
    return list(dict.fromkeys(metrics))


# --------------------------------------------------------------------------------------------
# GX plumbing (lazy import, one context per process)
# --------------------------------------------------------------------------------------------

_lock = threading.Lock()
_context_lock = threading.Lock()


def _batch_definition():
    """One ephemeral GX context with a pandas dataframe asset, created on first use (by
    whichever thread comes first: `prepare_in_background` or a validation)."""
    with _context_lock:
        return _new_batch_definition()


def _prepare() -> None:
    try:
        _batch_definition()
    except Exception:  # noqa: BLE001 - the first validation builds it again and reports it
        pass


_preparation = OnceInBackground(_prepare, "gx-prepare")


def prepare_in_background() -> threading.Thread:
    """Import great_expectations and create the process's GX context on a daemon thread,
    once per process. The ingest steps start it: the import (~3-5 s of the first check of a
    process, whatever the data size) then overlaps the loading, whose statements run in
    DuckDB without Python's lock, instead of delaying the checks after it."""
    return _preparation.start()


@cache
def _new_batch_definition():  # hold _context_lock: two threads must not build two contexts
    # Usage statistics would try the network (there is none) and slow every validation.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    # tqdm bars per validation would flood the Dagster compute logs.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("duckdb_frames").add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("whole_frame")


@cache
def _load_suite(path: str, mtime_ns: int):
    """Parse a suite file into a GX ExpectationSuite; cached per file version (path, mtime)."""
    import great_expectations as gx

    data = read_suite_json(path)
    data = {k: v for k, v in data.items() if k in ("name", "expectations", "meta", "notes")}
    data.setdefault("name", Path(path).stem)
    try:
        suite = gx.ExpectationSuite(**data)
    except Exception as exc:  # GX raises several types for a bad expectation
        raise SuiteFileError(
            f"expectation suite {path} is not a valid GX 1.x suite: {exc}"
        ) from exc
    # GX logs an expectation it cannot build (a typo in its type, a bad argument) and drops
    # it: a rule silently missing from a gate is worse than a failed run.
    built = Counter(e.expectation_type for e in suite.expectations)
    wanted = Counter(e.get("type") for e in data["expectations"])
    dropped = sorted((wanted - built).elements())
    if dropped:
        raise SuiteFileError(
            f"expectation suite {path} is not a valid GX 1.x suite: GX could not build "
            f"{', '.join(map(str, dropped))} (unknown expectation type or bad kwargs; see "
            "https://greatexpectations.io/expectations)."
        )
    return suite


def load_suite(suite_path: os.PathLike | str):
    """The GX ExpectationSuite in `suite_path` (re-read only when the file changes)."""
    path = Path(suite_path).resolve()
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError as exc:
        raise SuiteFileError(f"expectation suite {path} does not exist") from exc
    return _load_suite(str(path), mtime)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def validate_dataframe(
    df: pd.DataFrame,
    suite_path: os.PathLike | str,
    *,
    parameters: Mapping[str, Any] | None = None,
) -> SuiteResult:
    """Validate every row of `df` against the suite in `suite_path`.

    `parameters` fills the suite's `{"$PARAMETER": name}` placeholders (e.g. the known
    currencies, tomorrow's date), so rules that depend on settings or the clock stay in the
    JSON file.
    """
    suite = load_suite(suite_path)
    batch_definition = _batch_definition()
    started = time.perf_counter()
    df = _with_nanosecond_datetimes(df)
    with _lock:  # one GX context per process; validations do not interleave
        batch = batch_definition.get_batch(batch_parameters={"dataframe": df})
        validation = batch.validate(
            suite,
            # BASIC, not SUMMARY: it has the counts and example values we show, and GX's
            # per-expectation Python overhead is ~35% lower (measured: 0.26 s vs 0.40 s for
            # the 33-expectation Shopify suite on a one-row frame).
            result_format={"result_format": "BASIC", "partial_unexpected_count": 20},
            expectation_parameters=dict(parameters or {}),
        )
    seconds = time.perf_counter() - started

    evaluated: dict[str, int] = {}
    failed: list[FailedExpectation] = []
    for res in validation.results:
        config = res.expectation_config
        severity = _severity_name(config.severity)
        evaluated[severity] = evaluated.get(severity, 0) + 1
        if not res.success:
            failed.append(
                _failed_expectation(config, res.result or {}, res.exception_info, severity)
            )
    return SuiteResult(
        suite_name=suite.name,
        suite_path=Path(suite_path),
        rows=len(df),
        evaluated=len(validation.results),
        failed=tuple(sorted(failed, key=_failure_order)),
        seconds=seconds,
        evaluated_by_severity=evaluated,
    )


def validate_profile(
    values: Mapping[str, Any],
    suite_path: os.PathLike | str,
    *,
    parameters: Mapping[str, Any] | None = None,
) -> SuiteResult:
    """Validate an aggregate profile (metric → value, `pipelines/lib/profile.py`) against a
    profile suite. GX sees a one-row frame, so every failure's observed value is the metric's
    value; `rows` of the result is the batch's row count (the `rows` metric, if computed).

    An expectation with `"meta": {"min_rows": n}` is not judged on a batch of fewer than n
    rows (a share over three rows says nothing): its failure is dropped.
    """
    from pipelines.lib.profile import profile_frame

    result = validate_dataframe(profile_frame(values), suite_path, parameters=parameters)
    rows = values.get("rows")
    n_rows = int(rows) if isinstance(rows, int) else 0
    failed = tuple(
        replace(
            f,
            observed_value=(
                f.observed_value
                if f.observed_value is not None
                else (f.examples[0][0] if f.examples else _format_value(values.get(f.column)))
            ),
            examples=(),
            unexpected_count=None,
            element_count=None,
        )
        for f in result.failed
        if not (f.min_rows and n_rows < f.min_rows)
    )
    return replace(result, failed=failed, rows=n_rows, profile=True)


def _with_nanosecond_datetimes(df: pd.DataFrame) -> pd.DataFrame:
    """DuckDB hands TIMESTAMP/DATE columns over as datetime64[us]; GX compares those value by
    value but datetime64[ns] vectorised (measured: 0.77 s vs 0.03 s for one range rule on
    200k rows), so convert. Values outside ns range (before 1677) keep their unit."""
    import pandas as pd

    converted = {}
    for name, dtype in df.dtypes.items():
        if pd.api.types.is_datetime64_dtype(dtype) and dtype != "datetime64[ns]":
            try:
                converted[name] = df[name].astype("datetime64[ns]")
            except (pd.errors.OutOfBoundsDatetime, OverflowError):
                pass
    return df.assign(**converted) if converted else df


def _failure_order(f: FailedExpectation) -> tuple:
    # Blocking first, then the rules that broke the most rows.
    return (
        SEVERITIES.index(f.severity),
        -(f.unexpected_count or 0),
        f.expectation_type,
        f.column or "",
    )


def _severity_name(severity: Any) -> str:
    value = getattr(severity, "value", severity) or BLOCKING_SEVERITY
    return str(value).lower()


def _failed_expectation(
    config, result: Mapping[str, Any], exception_info, severity: str
) -> FailedExpectation:
    kwargs = config.kwargs
    columns = [kwargs[k] for k in _COLUMN_KWARGS if isinstance(kwargs.get(k), str)]
    for key in ("column_list",):
        if isinstance(kwargs.get(key), list):
            columns.extend(kwargs[key])
    mask = bool((config.meta or {}).get("mask_examples"))
    # Distinct example values with how often each occurs among GX's first 20 unexpected rows.
    counts = Counter(_format_value(v, mask) for v in result.get("partial_unexpected_list") or [])
    examples = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:EXAMPLES_KEPT])
    observed = result.get("observed_value")
    details = result.get("details") or {}
    if isinstance(details.get("mismatched"), dict) and details["mismatched"].get("missing"):
        observed = f"missing columns: {', '.join(map(str, details['mismatched']['missing']))}"
    return FailedExpectation(
        expectation_type=config.type,
        column=", ".join(columns) or None,
        severity=severity,
        description=getattr(config, "description", None),
        unexpected_count=_int_or_none(result.get("unexpected_count")),
        element_count=_int_or_none(result.get("element_count")),
        examples=examples,
        observed_value=None if observed is None else _format_value(observed, mask, limit=200),
        error=_exception_message(exception_info),
        expected=_expected_text(kwargs),
        action=(config.meta or {}).get("action"),
        min_rows=_int_or_none((config.meta or {}).get("min_rows")),
    )


def _expected_text(kwargs: Mapping[str, Any]) -> str | None:
    """The rule's bounds or set, in words: `between 0.2 and 5`, `<= 0`, `in {a, b}`."""

    def show(v: Any) -> str:
        if isinstance(v, Mapping) and "$PARAMETER" in v:
            return f"${v['$PARAMETER']}"
        if isinstance(v, float) and v.is_integer():
            v = int(v)  # GX hands bounds back as floats: show 0, not 0.0
        return _format_value(v, limit=80)

    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    lo_op = ">" if kwargs.get("strict_min") else ">="
    hi_op = "<" if kwargs.get("strict_max") else "<="
    if lo is not None and hi is not None:
        return f"{lo_op} {show(lo)} and {hi_op} {show(hi)}"
    if lo is not None:
        return f"{lo_op} {show(lo)}"
    if hi is not None:
        return f"{hi_op} {show(hi)}"
    if "value_set" in kwargs:
        values = kwargs["value_set"]
        if isinstance(values, list):
            return "one of " + ", ".join(show(v) for v in values[:12])
        return f"one of {show(values)}"
    if "value" in kwargs:
        return f"= {show(kwargs['value'])}"
    return None


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _exception_message(exception_info: Any) -> str | None:
    """GX puts either one {raised_exception, exception_message} dict or one per metric."""
    if not exception_info:
        return None
    infos = (
        [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    )
    messages = [
        str(i.get("exception_message")).removeprefix("Error: ")
        for i in infos
        if isinstance(i, Mapping) and i.get("raised_exception")
    ]
    return "; ".join(dict.fromkeys(messages)) or None


def _format_value(value: Any, mask: bool = False, limit: int = EXAMPLE_MAX_CHARS) -> str:
    """A short, readable rendering of one offending value (nulls as `null`)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    if isinstance(value, (date, datetime)):
        text = value.isoformat()
    elif isinstance(value, Mapping):  # multi-column rules report {column: value}
        return _format_value(tuple(value.values()), mask, limit)
    elif isinstance(value, (tuple, list)):
        text = "(" + ", ".join(_format_value(v, mask, limit) for v in value) + ")"
        return text[:limit]
    else:
        text = str(value)
    if mask and text:
        # PII (emails, phones) must not be copied into Dagster's event log.
        text = text[:1] + MASK
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------
# Dagster rendering
# --------------------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _profile_markdown(result: SuiteResult) -> str:
    if not result.failed:
        return f"All {result.evaluated} expectations passed on the profile of {result.rows:,} rows."
    lines = [
        "| severity | expectation | metric | observed | expected | what to do |",
        "| --- | --- | --- | ---: | --- | --- |",
    ]
    for f in result.failed:
        rule = f"`{f.expectation_type}`" + (
            f"<br>{_md_cell(f.description)}" if f.description else ""
        )
        observed = f"error: {f.error}" if f.error else (f.observed_value or "null")
        action = f.action or DEFAULT_ACTION
        lines.append(
            f"| {f.severity} | {rule} | `{_md_cell(f.column or '(table)')}` | "
            f"{_md_cell(observed)} | {_md_cell(f.expected or '')} | {_md_cell(action)} |"
        )
    return "\n".join(lines)


DEFAULT_ACTION = (
    "Look at the files loaded in this run (meta.load_manifest, loaded_at = the run's start): "
    "a changed export format or a partial file is the usual cause. Fix and re-drop the file, "
    "or widen the bound in the suite if the change is real."
)


def failures_markdown(result: SuiteResult) -> str:
    """Markdown table of the failed expectations: rule, column, failing rows, examples (for a
    profile: metric, observed value, expected bounds, what to do)."""
    if result.profile:
        return _profile_markdown(result)
    if not result.failed:
        return f"All {result.evaluated} expectations passed on {result.rows:,} rows."
    lines = [
        "| severity | expectation | column | failing rows | examples / observed |",
        "| --- | --- | --- | ---: | --- |",
    ]
    for f in result.failed:
        rule = f"`{f.expectation_type}`" + (
            f"<br>{_md_cell(f.description)}" if f.description else ""
        )
        if f.unexpected_count is not None and f.element_count is not None:
            count = f"{f.unexpected_count:,} of {f.element_count:,}"
        else:
            count = "—"
        if f.error:
            detail = f"error: {f.error}"
        elif f.examples:
            detail = ", ".join(f"`{v}` ×{n}" for v, n in f.examples)
        else:
            detail = f"observed: {f.observed_value}" if f.observed_value is not None else ""
        column = _md_cell(f.column or "(table)")
        lines.append(f"| {f.severity} | {rule} | {column} | {count} | {_md_cell(detail)} |")
    return "\n".join(lines)


def summary_line(result: SuiteResult) -> str:
    """One sentence for the check's description in the UI."""
    if result.success:
        return f"{result.evaluated} expectations passed on {result.rows:,} rows."
    if result.profile:
        worst = "; ".join(
            f"{f.expectation_type}({f.column}): observed {f.observed_value}, expected "
            f"{f.expected or '?'}"
            for f in result.failed[:3]
        )
        more = f" and {len(result.failed) - 3} more" if len(result.failed) > 3 else ""
        return (
            f"{len(result.failed)} of {result.evaluated} expectations failed on the profile of "
            f"{result.rows:,} rows: {worst}{more}."
        )
    worst = ", ".join(
        f"{f.expectation_type}({f.column or 'table'})"
        + (f": {f.unexpected_count:,} rows" if f.unexpected_count else "")
        for f in result.failed[:3]
    )
    more = f" and {len(result.failed) - 3} more" if len(result.failed) > 3 else ""
    return (
        f"{len(result.failed)} of {result.evaluated} expectations failed on {result.rows:,} rows: "
        f"{worst}{more}."
    )


def result_metadata(result: SuiteResult) -> dict[str, dg.MetadataValue]:
    """Dagster metadata for an asset check: what was validated and which expectations failed."""
    return {
        "suite": dg.MetadataValue.path(str(result.suite_path)),
        "rows_validated": dg.MetadataValue.int(result.rows),
        "expectations_evaluated": dg.MetadataValue.int(result.evaluated),
        "expectations_failed": dg.MetadataValue.int(len(result.failed)),
        "failed_expectations": dg.MetadataValue.md(failures_markdown(result)),
        "gx_seconds": dg.MetadataValue.float(round(result.seconds, 3)),
    }
