"""Analyst-defined dynamic segments: parse and validate the YAML files, compile them to SQL.

Origin: one YAML file per segment in `dbt_project/segments/` (format in its README.md): a slug
`name`, a `description`, and `conditions`, a tree of `{all: [...]}` / `{any: [...]}` groups
whose leaves are `{column, op, value}` tests on a catalogue column (catalogue.py: the columns
of customer_facts and customer_segments, typed from the dbt YAML).

Validation runs when the code location loads and reports every problem of every file at once,
each naming the file, the line, the condition's path (`conditions.all[2]`, 0-based), what is
wrong and what is allowed (validate.py, values.py). Compilation never puts analyst text into
SQL: column names come from the catalogue (quoted identifiers), operators and date arithmetic
from fixed tables here, and every value is a bound `?` parameter.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipelines.defs.segments.catalogue import (
    FACTS_MODEL,
    LABELS_MODEL,
    MARTS_MODELS_DIR,
    PREDICTIONS_MODEL,
    Catalogue,
    CatalogueError,
    load_catalogue,
)
from pipelines.defs.segments.definition import (
    MAX_FILE_BYTES,
    Condition,
    Group,
    Problem,
    RelativeDate,
    SegmentDefinition,
    SegmentDefinitionError,
)
from pipelines.defs.segments.validate import Validator, load_yaml
from pipelines.lib.duck import quote_ident
from pipelines.settings import DBT_PROJECT_DIR, PROJECT_ROOT

__all__ = [
    "CompiledSegment",
    "SegmentDefinition",
    "SegmentDefinitionError",
    "compile_segment",
    "definition_files",
    "definitions_dir",
    "load_definitions",
    "parse_definition",
]

DEFAULT_DEFINITIONS_DIR = DBT_PROJECT_DIR / "segments"

# Table aliases the compiled predicate refers to (evaluate.py joins the tables under them).
FACTS_ALIAS = "facts"
LABELS_ALIAS = "labels"
PREDICTIONS_ALIAS = "predictions"
MODEL_ALIASES = {
    FACTS_MODEL: FACTS_ALIAS,
    LABELS_MODEL: LABELS_ALIAS,
    PREDICTIONS_MODEL: PREDICTIONS_ALIAS,
}

# Operator → SQL template; `{col}` is a quoted catalogue column, `{v}` a value placeholder.
_SQL_TEMPLATES = {
    "=": "{col} = {v}",
    "!=": "{col} <> {v}",
    ">": "{col} > {v}",
    ">=": "{col} >= {v}",
    "<": "{col} < {v}",
    "<=": "{col} <= {v}",
    "between": "{col} between {v} and {v2}",
    "in": "{col} in ({vs})",
    "not in": "{col} not in ({vs})",
    # case-insensitive substring, as in Shopify's editor; no LIKE, so % and _ are plain text
    "contains": "contains(lower({col}), lower({v}))",
    "is null": "{col} is null",
    "is not null": "{col} is not null",
}
# One DuckDB function per unit; month/year arithmetic clamps to the month's end, so
# "1 month ago" as of 2024-03-31 is 2024-02-29.
_INTERVAL_FUNCTION = {
    "day": "to_days",
    "week": "to_weeks",
    "month": "to_months",
    "year": "to_years",
}


@dataclass(frozen=True)
class CompiledSegment:
    """A segment's conditions as one SQL boolean expression and its bound parameters.

    `predicate` refers to the aliases `facts` (customer_facts), `labels` (customer_segments)
    and `predictions` (customer_predictions); it holds only our own SQL and `?` placeholders.
    `joined_models` are the models besides customer_facts it needs (MODEL_ALIASES).
    """

    predicate: str
    params: tuple[Any, ...]
    uses_labels: bool
    joined_models: tuple[str, ...] = ()


def _placeholder(value: Any, params: list[Any]) -> str:
    """A `?` for the value; a relative date becomes the as-of date minus a bound amount."""
    if isinstance(value, RelativeDate):
        params.append(value.amount)
        function = _INTERVAL_FUNCTION[value.unit]
        return f"cast({FACTS_ALIAS}.as_of_date - {function}(cast(? as integer)) as date)"
    params.append(value)
    return "?"


def _compile(node: Condition | Group, params: list[Any]) -> str:
    if isinstance(node, Group):
        joiner = " and " if node.mode == "all" else " or "
        return "(" + joiner.join(_compile(item, params) for item in node.items) + ")"
    alias = MODEL_ALIASES[node.column.model]
    column = f"{alias}.{quote_ident(node.column.name)}"
    placeholders = [_placeholder(value, params) for value in node.values]
    return _SQL_TEMPLATES[node.op].format(
        col=column,
        v=placeholders[0] if placeholders else "",
        v2=placeholders[1] if len(placeholders) > 1 else "",
        vs=", ".join(placeholders),
    )


def compile_segment(definition: SegmentDefinition) -> CompiledSegment:
    """The definition's conditions as a parameterised SQL predicate (see CompiledSegment)."""
    params: list[Any] = []
    predicate = _compile(definition.conditions, params)
    return CompiledSegment(
        predicate, tuple(params), definition.uses_labels, definition.joined_models
    )


def _display(path: Path) -> Path:
    """The path relative to the project root when it is inside it (shorter messages)."""
    try:
        return path.resolve().relative_to(PROJECT_ROOT)
    except ValueError:
        return path


def parse_definition(text: str, file: Path, catalogue: Catalogue) -> SegmentDefinition:
    """Parse and validate one definition file's text; raises SegmentDefinitionError."""
    shown = _display(file)
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        hint = (
            " Quote operators such as '>=' and values that start with > or *."
            if (">" in text or "*" in text) and "expands to more than" not in str(problem)
            else ""
        )
        raise SegmentDefinitionError(
            [
                Problem(
                    shown,
                    "(file)",
                    mark.line + 1 if mark else None,
                    f"not valid YAML: {problem}.{hint}",
                )
            ]
        ) from None
    validator = Validator(shown, catalogue)
    definition = validator.document(raw)
    if validator.problems or definition is None:
        raise SegmentDefinitionError(validator.problems)
    return definition


def definitions_dir() -> Path:
    """The folder of segment YAML files: `$SEGMENTS_DEFINITIONS_DIR`, else dbt_project/segments.

    Read here rather than in pipelines/settings.py so the folder is known without loading
    the rest of the settings (the lead may move it there).
    """
    return Path(os.environ.get("SEGMENTS_DEFINITIONS_DIR") or DEFAULT_DEFINITIONS_DIR)


def definition_files(folder: Path) -> list[Path]:
    """The definition files of a folder: *.yml / *.yaml, not hidden, in name order."""
    if not folder.is_dir():
        message = (
            "the dynamic segments folder does not exist; create it, or point "
            "SEGMENTS_DEFINITIONS_DIR at the folder that holds the segment YAML files."
        )
        raise SegmentDefinitionError([Problem(folder, "(folder)", None, message)])
    return sorted(
        p for p in folder.iterdir() if p.suffix in (".yml", ".yaml") and not p.name.startswith(".")
    )  # folders named *.yml are listed too: read_definition_text names them


def read_definition_text(file: Path) -> str:
    """A definition file's text: at most MAX_FILE_BYTES, UTF-8 (a BOM is fine); anything
    else raises SegmentDefinitionError naming the file and what to do."""

    def problem(message: str, line: int | None = None) -> SegmentDefinitionError:
        return SegmentDefinitionError([Problem(_display(file), "(file)", line, message)])

    try:
        with open(file, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        raise problem("is a folder, not a segment file; rename it (not .yml/.yaml).") from None
    except OSError as exc:
        raise problem(
            f"cannot be read ({exc.strerror}); fix its permissions or remove it."
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise problem(
            f"is larger than {MAX_FILE_BYTES // 1024} KiB; a segment definition is a few "
            "lines: split it, or remove what is not a definition."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise problem(
            f"is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8.",
            line,
        ) from None


def load_definitions(folder: Path, catalogue: Catalogue | None = None) -> list[SegmentDefinition]:
    """Every segment definition in folder, validated; raises one error listing every problem.

    The catalogue defaults to the columns the dbt YAML declares (catalogue.load_catalogue).
    """
    files = definition_files(Path(folder))
    if not files:
        return []
    catalogue = catalogue if catalogue is not None else load_catalogue()
    if FACTS_MODEL in catalogue.missing_models:
        # one clear message instead of "unknown column" for every condition of every file
        raise CatalogueError(
            f"no dbt YAML under {_display(MARTS_MODELS_DIR)} declares the model "
            f"{FACTS_MODEL} with its columns' data_type, so the {len(files)} dynamic segment "
            "definitions cannot be validated. Declare its columns (name + data_type) there."
        )
    definitions: list[SegmentDefinition] = []
    problems: list[Problem] = []
    first_file: dict[str, Path] = {}
    for file in files:
        try:
            definition = parse_definition(read_definition_text(file), file, catalogue)
        except SegmentDefinitionError as error:
            problems.extend(error.problems)
            continue
        if definition.name in first_file:
            message = (
                f"segment name {definition.name!r} is already used by "
                f"{first_file[definition.name]}; names must be unique across the folder: "
                "rename one."
            )
            problems.append(Problem(definition.source_file, "name", None, message))
            continue
        first_file[definition.name] = definition.source_file
        definitions.append(definition)
    if problems:
        raise SegmentDefinitionError(problems)
    return sorted(definitions, key=lambda d: d.name)
