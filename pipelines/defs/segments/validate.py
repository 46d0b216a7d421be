"""Validation of one definition file: YAML with line numbers, then every rule, every problem.

The validator walks the whole tree and collects problems instead of stopping at the first,
so an analyst fixes a file in one go. Paths are 0-based (`conditions.all[2]` is the third).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml

from pipelines.defs.segments.catalogue import Catalogue, Column
from pipelines.defs.segments.definition import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_LIST_VALUES,
    MAX_YAML_NODES,
    NAME_PATTERN,
    OPERATOR_HINTS,
    OPERATORS,
    OPERATORS_BY_KIND,
    Condition,
    Group,
    Problem,
    SegmentDefinition,
    did_you_mean,
    show,
)
from pipelines.defs.segments.values import ValueProblem, check_order, typed_value


class _LineDict(dict):
    """A YAML mapping that remembers the line it starts on (1-based), for error messages."""

    line: int | None = None


class _Loader(yaml.SafeLoader):
    """Safe YAML that keeps line numbers, refuses duplicate keys and reads a bare `=` as text,
    and refuses a document that expands to more than MAX_YAML_NODES nodes (aliases counted
    as what they expand to), before anything is built from it."""

    def compose_document(self) -> yaml.Node | None:
        node = super().compose_document()
        if node is not None:
            size = _expanded_size(node, {})
            if size > MAX_YAML_NODES:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"the file expands to more than {MAX_YAML_NODES:,} values (anchors and "
                    "aliases nested in each other?); write the conditions out plainly",
                    node.start_mark,
                )
        return node


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Nodes `node` stands for once every alias is expanded; stops counting past the limit.
    `sizes` memoises shared (aliased) nodes, so this costs one visit per distinct node."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    total = 1
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    else:
        children = []
    for child in children:
        total += _expanded_size(child, sizes)
        if total > MAX_YAML_NODES:
            break
    sizes[id(node)] = total
    return total


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    keys = [loader.construct_object(key, deep=True) for key, _ in node.value]
    for key in {k for k in keys if keys.count(k) > 1}:
        raise yaml.constructor.ConstructorError(
            None, None, f"key {key!r} appears twice in one mapping; keep one", node.start_mark
        )
    mapping = _LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# YAML 1.1 resolves a bare `=` to the obscure "value" type; `op: =` should just mean "=".
_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: node.value)


def load_yaml(text: str) -> Any:
    """Parse one definition file: safe YAML whose mappings know their line numbers."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (_Loader is a SafeLoader)


_TOP_KEYS = ("name", "description", "conditions")
_LEAF_KEYS = ("column", "op", "value")
_SHAPE = "a condition {column, op, value} or a group {all: [...]} / {any: [...]}"
_LOGIC_HINTS = {
    "and": " 'and' is spelt all.",
    "or": " 'or' is spelt any.",
    "not": " There is no not: use !=, not in or is null in the condition itself.",
}
_VALUE_EXAMPLES = {"one": "value: PL", "pair": "value: [18, 65]", "list": "value: [PL, DE]"}


def _line(raw: Any) -> int | None:
    return raw.line if isinstance(raw, _LineDict) else None


class Validator:
    """Walks one parsed file, collecting every problem rather than stopping at the first."""

    def __init__(self, file: Path, catalogue: Catalogue):
        self.file = file
        self.catalogue = catalogue
        self.problems: list[Problem] = []
        self.conditions = 0

    def fail(self, path: str, raw: Any, message: str, line: int | None = None) -> None:
        self.problems.append(Problem(self.file, path, _line(raw) or line, message))

    def document(self, raw: Any) -> SegmentDefinition | None:
        """The whole file: name, description and the conditions tree."""
        if not isinstance(raw, Mapping):
            self.fail(
                "(file)",
                raw,
                "a segment file holds one mapping with the keys name, description and conditions.",
                line=1,
            )
            return None
        for key in raw:
            if key not in _TOP_KEYS:
                self.fail(
                    str(key),
                    raw,
                    f"unknown key {key!r}.{did_you_mean(str(key), _TOP_KEYS)}"
                    " A segment file has the keys name, description and conditions.",
                )
        name, description = raw.get("name"), raw.get("description")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            self.fail(
                "name",
                raw,
                "name must be a slug: lower-case letters, digits and _, "
                f"starting with a letter, at most 63 characters (e.g. vips_at_risk); got {name!r}.",
            )
        if not isinstance(description, str) or not description.strip():
            self.fail(
                "description",
                raw,
                "add a description: one sentence saying who is in the segment and why.",
            )
        conditions = raw.get("conditions")
        if not (
            isinstance(conditions, Mapping)
            and len(conditions) == 1
            and set(conditions) <= {"all", "any"}
        ):
            hint = (
                "it is a list: put it under all: (every condition holds) or any: (at least "
                "one holds)"
                if isinstance(conditions, list)
                else f"got {show(conditions)}"
            )
            self.fail(
                "conditions",
                conditions if isinstance(conditions, Mapping) else raw,
                f"conditions must be one group, {{all: [...]}} or {{any: [...]}}; {hint}.",
            )
            return None
        tree = self.node(conditions, "conditions", depth=0, line=_line(raw))
        if self.problems or not isinstance(tree, Group):
            return None
        return SegmentDefinition(
            name=name,
            description=" ".join(description.split()),
            conditions=tree,
            source_file=self.file,
        )

    def node(self, raw: Any, path: str, depth: int, line: int | None) -> Condition | Group | None:
        """A group or a condition; `line` is the parent's, for items that are not mappings."""
        if depth > MAX_DEPTH:
            self.fail(
                path, raw, f"groups are nested more than {MAX_DEPTH} deep; flatten them.", line
            )
            return None
        if not isinstance(raw, Mapping):
            self.fail(path, raw, f"expected {_SHAPE}; got {show(raw)}.", line)
            return None
        modes = [key for key in raw if key in ("all", "any")]
        if modes and len(raw) != 1:
            self.fail(
                path,
                raw,
                f"a group has exactly one key, all or any; got {show(list(raw))}."
                " Nest one group inside the other to combine them.",
            )
            return None
        if modes:
            return self.group(raw, path, modes[0], depth)
        if "column" in raw or "op" in raw:
            return self.leaf(raw, path)
        hints = "".join(_LOGIC_HINTS.get(str(key).lower(), "") for key in raw)
        self.fail(path, raw, f"expected {_SHAPE}; got {show(raw)}.{hints}")
        return None

    def group(
        self, raw: Mapping, path: str, mode: Literal["all", "any"], depth: int
    ) -> Group | None:
        items = raw[mode]
        if not isinstance(items, list) or not items:
            self.fail(
                path,
                raw,
                f"{mode}: needs a non-empty list of conditions, one per line "
                f"starting with '- '; got {show(items)}.",
            )
            return None
        before = len(self.problems)
        children = [
            self.node(item, f"{path}.{mode}[{i}]", depth + 1, _line(raw))
            for i, item in enumerate(items)
        ]
        if len(self.problems) > before:
            return None
        return Group(path=path, mode=mode, items=tuple(c for c in children if c is not None))

    def leaf(self, raw: Mapping, path: str) -> Condition | None:
        """One `{column, op, value}` test; checks the column, then the operator, then values."""
        shown = f"condition {show(raw)}"
        unknown = [str(key) for key in raw if key not in _LEAF_KEYS]
        if unknown:
            self.fail(
                path,
                raw,
                f"{shown}: unknown key {unknown[0]!r}."
                f"{did_you_mean(unknown[0], _LEAF_KEYS)} A condition has the keys "
                "column, op and value.",
            )
            return None
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            self.fail(path, raw, f"more than {MAX_CONDITIONS} conditions in one segment; split it.")
            return None
        column = self.column(raw, path, shown)
        op = self.operator(raw, path, shown, column)
        if column is None or op is None:
            return None
        try:
            values = self.values(raw, column, op)
        except ValueProblem as problem:
            self.fail(path, raw, f"{shown}: {problem}")
            return None
        return Condition(path=path, column=column, op=op, values=values)

    def column(self, raw: Mapping, path: str, shown: str) -> Column | None:
        name = raw.get("column")
        if not isinstance(name, str) or not name:
            self.fail(
                path,
                raw,
                f"{shown}: column is missing; name a customer-fact or "
                "segment-label column, e.g. column: country_code.",
            )
            return None
        found = self.catalogue.columns.get(name)
        if found is None:
            known = sorted(self.catalogue.columns)
            why = self.catalogue.describe_unknown(name)
            undeclared = " or ".join(self.catalogue.missing_models)
            missing = (
                f" (No dbt YAML under models/marts declares {undeclared}, so its columns are "
                "unknown.)"
                if undeclared
                else ""
            )
            self.fail(
                path,
                raw,
                f"{shown}: unknown column {name!r}."
                + (f" {why}." if why else did_you_mean(name, known))
                + missing
                + f" Columns you can use: {', '.join(known)}.",
            )
        return found

    def operator(self, raw: Mapping, path: str, shown: str, column: Column | None) -> str | None:
        given = raw.get("op")
        allowed = ", ".join(OPERATORS)
        if not isinstance(given, str):
            self.fail(
                path,
                raw,
                f"{shown}: op is missing or not text; use one of {allowed} "
                "(quote it in YAML, e.g. op: '>=').",
            )
            return None
        op = " ".join(given.lower().split())  # 'NOT  IN' → 'not in'
        if op not in OPERATORS:
            hint = (
                f" Did you mean {OPERATOR_HINTS[op]!r}?"
                if op in OPERATOR_HINTS
                else did_you_mean(op, list(OPERATORS))
            )
            self.fail(
                path, raw, f"{shown}: unknown operator {given!r}.{hint} Operators: {allowed}."
            )
            return None
        if column is not None and op not in OPERATORS_BY_KIND[column.kind]:
            fits = ", ".join(OPERATORS_BY_KIND[column.kind])
            self.fail(
                path,
                raw,
                f"{shown}: operator {op!r} does not apply to {column.name}, a "
                f"{column.kind} column ({column.data_type}). For a {column.kind} column "
                f"use: {fits}.",
            )
            return None
        return op

    def values(self, raw: Mapping, column: Column, op: str) -> tuple[Any, ...]:
        """The condition's values typed for the column: none, one, a [low, high] pair or a list."""
        arity = OPERATORS[op]
        if arity == "none":
            if "value" in raw:
                raise ValueProblem(f"{op} takes no value; remove value.")
            return ()
        if "value" not in raw:
            raise ValueProblem(f"{op} needs a value, e.g. {_VALUE_EXAMPLES[arity]}.")
        value = raw["value"]
        if arity == "one":
            return (typed_value(value, column, op),)
        if arity == "pair":
            if not isinstance(value, list) or len(value) != 2:
                raise ValueProblem(
                    "between needs a list of two values [low, high], both "
                    "included, e.g. [18, 65] or ['90 days ago', today]; "
                    f"got {show(value)}."
                )
            low, high = (typed_value(v, column, op) for v in value)
            check_order(low, high)
            return (low, high)
        if not isinstance(value, list) or not value:
            raise ValueProblem(
                f"{op} needs a non-empty list of values, e.g. [PL, DE]; got {show(value)}."
            )
        if len(value) > MAX_LIST_VALUES:
            raise ValueProblem(f"{op} lists {len(value)} values; at most {MAX_LIST_VALUES}.")
        return tuple(typed_value(v, column, op) for v in value)
