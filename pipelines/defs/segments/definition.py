"""The parsed form of a dynamic segment definition, its operators, and its error type.

A definition is a tree: a Group (`all` / `any`) of Conditions and Groups; each Condition tests
one catalogue column with one operator against values already typed for that column.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml

from pipelines.defs.segments.catalogue import Column, Kind

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Guards against a runaway (or generated) file; no hand-written segment comes near them.
MAX_DEPTH = 8
MAX_CONDITIONS = 100
MAX_LIST_VALUES = 1000
MAX_TEXT_LENGTH = 500
# A segment file is a few hundred bytes; these stop a file (or a "billion laughs" of nested
# YAML anchors: 14 lines took 117 s and 1.45 GB) before it costs time or memory.
MAX_FILE_BYTES = 64 * 1024
MAX_YAML_NODES = 10_000  # scalars, lists and mappings, counting every alias as its expansion
MAX_SHOWN = 120  # characters of a value echoed in a message
MAX_MESSAGE = 1000  # characters of one problem's message

Arity = Literal["one", "pair", "list", "none"]
OPERATORS: dict[str, Arity] = {
    "=": "one",
    "!=": "one",
    ">": "one",
    ">=": "one",
    "<": "one",
    "<=": "one",
    "between": "pair",
    "in": "list",
    "not in": "list",
    "contains": "one",
    "is null": "none",
    "is not null": "none",
}
_ORDERED = ("=", "!=", "in", "not in", ">", ">=", "<", "<=", "between", "is null", "is not null")
OPERATORS_BY_KIND: dict[Kind, tuple[str, ...]] = {
    Kind.TEXT: ("=", "!=", "in", "not in", "contains", "is null", "is not null"),
    Kind.INTEGER: _ORDERED,
    Kind.NUMBER: _ORDERED,
    Kind.DATE: _ORDERED,
    Kind.TIMESTAMP: _ORDERED,
    Kind.BOOLEAN: ("=", "!=", "is null", "is not null"),
}
# What people type from other languages → what they meant
OPERATOR_HINTS = {
    "==": "=",
    "<>": "!=",
    "eq": "=",
    "ne": "!=",
    "gt": ">",
    "gte": ">=",
    "ge": ">=",
    "lt": "<",
    "lte": "<=",
    "le": "<=",
    "like": "contains",
    "not_in": "not in",
    "notin": "not in",
    "is_null": "is null",
    "is_not_null": "is not null",
    "not null": "is not null",
    "null": "is null",
}


# --- the parsed definition -------------------------------------------------------------------


@dataclass(frozen=True)
class RelativeDate:
    """`N days|weeks|months|years ago` (or `today`), resolved against each as-of date in SQL."""

    amount: int
    unit: str  # day, week, month, year

    def __str__(self) -> str:
        return "today" if self.amount == 0 else f"{self.amount} {self.unit}s ago"


@dataclass(frozen=True)
class Condition:
    """One test `column op value(s)`; values are typed for the column (empty for null tests)."""

    path: str
    column: Column
    op: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Group:
    """`all` (every item holds) or `any` (at least one holds) over conditions and groups."""

    path: str
    mode: Literal["all", "any"]
    items: tuple[Condition | Group, ...]


@dataclass(frozen=True)
class SegmentDefinition:
    """One analyst-defined segment, validated against the catalogue."""

    name: str
    description: str
    conditions: Group
    source_file: Path

    def leaves(self) -> list[Condition]:
        def walk(node: Condition | Group) -> list[Condition]:
            return (
                [node] if isinstance(node, Condition) else [c for i in node.items for c in walk(i)]
            )

        return walk(self.conditions)

    @property
    def joined_models(self) -> tuple[str, ...]:
        """Models other than customer_facts whose columns it tests (joined on key and date)."""
        return tuple(sorted({leaf.column.model for leaf in self.leaves() if leaf.column.is_joined}))

    @property
    def uses_labels(self) -> bool:
        """Tests a customer_segments column, so it can be evaluated only where labels exist."""
        return any(leaf.column.is_label for leaf in self.leaves())

    def conditions_json(self) -> str:
        """The normalised conditions as JSON text (dates ISO, relative dates as written)."""

        def plain(value: Any) -> Any:
            if isinstance(value, date | datetime):
                return value.isoformat()
            if isinstance(value, Decimal):
                return float(value) if value != value.to_integral() else int(value)
            if isinstance(value, RelativeDate):
                return str(value)
            return value

        def node(item: Condition | Group) -> dict[str, Any]:
            if isinstance(item, Group):
                return {item.mode: [node(i) for i in item.items]}
            out: dict[str, Any] = {"column": item.column.name, "op": item.op}
            arity = OPERATORS[item.op]
            if arity == "one":
                out["value"] = plain(item.values[0])
            elif arity in ("pair", "list"):
                out["value"] = [plain(v) for v in item.values]
            return out

        return json.dumps(node(self.conditions), ensure_ascii=False)


# --- errors ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one definition file, where it is, and what to do."""

    file: Path
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}" + (f", line {self.line}" if self.line else "")
        return f"{where}, {self.path}: {clip(self.message, MAX_MESSAGE)}"


class SegmentDefinitionError(ValueError):
    """One or more dynamic segment definitions are invalid; `problems` lists each one."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        count = len(self.problems)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} in dynamic segment definitions "
            "(nothing was evaluated; fix the files and reload):\n"
            + "\n".join(f"- {p}" for p in self.problems)
        )


# --- message helpers -------------------------------------------------------------------------


def clip(text: str, limit: int = MAX_SHOWN) -> str:
    """`text` cut to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def show(raw: Any) -> str:
    """A condition as the analyst wrote it, on one line (long ones cut at MAX_SHOWN)."""

    def plain(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return clip(
        yaml.safe_dump(
            plain(raw), default_flow_style=True, allow_unicode=True, sort_keys=False, width=10**6
        ).strip()
    )


def _likeness(word: str, name: str) -> float:
    """How alike a typo and a name are, also part by part ('contry' ~ 'country_code')."""
    word = word.lower()
    parts = [name, *name.split("_")]
    return max(difflib.SequenceMatcher(None, word, part).ratio() for part in parts)


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """' Did you mean 'x'?' for up to three close choices, or '' when none is close."""

    def whole(name: str) -> float:
        return difflib.SequenceMatcher(None, word.lower(), name.lower()).ratio()

    # best part match first; among equals, the closest whole name ('orders' → orders_count)
    scored = sorted(choices, key=lambda c: (-_likeness(word, c), -whole(c), c))
    close = [choice for choice in scored[:3] if _likeness(word, choice) >= 0.75]
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
