"""The columns a dynamic segment may test, read from the dbt YAML that declares the marts.

Origin: `dbt_project/models/marts/**/*.yml`, the `columns:` (name + `data_type`) of the models
`customer_facts` (one row per customer per as-of date), `customer_segments` (one row per
customer for the latest as-of date: the segment labels) and `customer_predictions` (one row
per customer per as-of date that has a CLV fit; written by the model step, so declared as a
dbt *source* table, `dbt_project/models/marts/predictions/_predictions__sources.yml`).
Reading the YAML rather than the warehouse lets definitions be validated when the code
location loads, before any warehouse exists, and picks up every column the dbt models gain
without a change here.

A column name that both models declare resolves to `customer_facts`: it holds every as-of
date, so a segment built only on facts can be evaluated for the whole history.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from pipelines.settings import DBT_PROJECT_DIR

MARTS_MODELS_DIR = DBT_PROJECT_DIR / "models" / "marts"

# (model, alias used in the compiled SQL); the first model wins a column declared in both.
FACTS_MODEL = "customer_facts"
LABELS_MODEL = "customer_segments"
PREDICTIONS_MODEL = "customer_predictions"
MODELS = (FACTS_MODEL, LABELS_MODEL, PREDICTIONS_MODEL)
# The join keys: present in both models, never useful as a condition.
KEY_COLUMNS = frozenset({"customer_key", "as_of_date"})


class Kind(StrEnum):
    """What a column holds, as far as a condition's value and operators are concerned."""

    TEXT = "text"
    INTEGER = "whole number"
    NUMBER = "number"
    DATE = "date"
    TIMESTAMP = "timestamp"
    BOOLEAN = "true/false"


# DuckDB type names (lower case, without precision) → kind. Anything else (lists, structs,
# JSON, blobs) cannot be compared to a YAML scalar, so such columns are not offered.
_KIND_BY_TYPE: dict[str, Kind] = {
    **dict.fromkeys(("varchar", "text", "string", "char", "bpchar", "uuid"), Kind.TEXT),
    **dict.fromkeys(
        (
            "tinyint",
            "smallint",
            "integer",
            "int",
            "bigint",
            "hugeint",
            "int1",
            "int2",
            "int4",
            "int8",
            "int16",
            "int32",
            "int64",
            "utinyint",
            "usmallint",
            "uinteger",
            "ubigint",
            "uhugeint",
            "long",
            "short",
            "signed",
        ),
        Kind.INTEGER,
    ),
    **dict.fromkeys(
        ("decimal", "numeric", "double", "float", "real", "float4", "float8"), Kind.NUMBER
    ),
    "date": Kind.DATE,
    **dict.fromkeys(
        (
            "timestamp",
            "datetime",
            "timestamptz",
            "timestamp_s",
            "timestamp_ms",
            "timestamp_ns",
            "timestamp_us",
        ),
        Kind.TIMESTAMP,
    ),
    **dict.fromkeys(("boolean", "bool", "logical"), Kind.BOOLEAN),
}


def kind_of(data_type: str) -> Kind | None:
    """The kind of a declared dbt `data_type` (`decimal(18,2)` → number), None if unsupported."""
    text = data_type.strip().lower()
    if text.endswith("]"):  # varchar[] and friends: a list, not a scalar
        return None
    base = re.split(r"[\s(]", text, maxsplit=1)[0]
    return _KIND_BY_TYPE.get(base)


@dataclass(frozen=True)
class Column:
    """One column a condition may test: where it is declared and what values it takes."""

    name: str
    model: str
    data_type: str
    kind: Kind
    declared_in: Path
    # From an `accepted_values` test on the column, when it has one: lets validation catch
    # a misspelt label ('Champion') at load time instead of returning an empty segment.
    accepted_values: tuple[str, ...] | None = None

    @property
    def is_label(self) -> bool:
        """Lives in customer_segments, which holds the latest as-of date only."""
        return self.model == LABELS_MODEL

    @property
    def is_joined(self) -> bool:
        """Lives in a table joined to customer_facts (labels, predictions), which holds only
        some as-of dates: a segment testing it is evaluated on those dates only."""
        return self.model != FACTS_MODEL


@dataclass(frozen=True)
class Catalogue:
    """Every column a dynamic segment may use, by name, plus why some others may not."""

    columns: Mapping[str, Column]
    # column name → why it cannot be used (no data_type declared, or an unsupported type)
    unusable: Mapping[str, str] = field(default_factory=dict)
    # models no YAML under the marts folder declares (their columns are then unknown)
    missing_models: tuple[str, ...] = ()

    def describe_unknown(self, name: str) -> str | None:
        """Why `name` is not a usable column, when the YAML says something about it."""
        return self.unusable.get(name)


class CatalogueError(ValueError):
    """The dbt YAML that declares the marts cannot be read; the message names the file."""


def _accepted_values(column: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The literal values of an `accepted_values` test (dbt 1.11 `arguments:` or older form)."""
    for test in [*(column.get("data_tests") or []), *(column.get("tests") or [])]:
        if not isinstance(test, Mapping) or "accepted_values" not in test:
            continue
        spec = test["accepted_values"] or {}
        values = (spec.get("arguments") or {}).get("values", spec.get("values"))
        if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
            return tuple(values)
    return None


def _model_entries(models_dir: Path) -> list[tuple[Path, Mapping[str, Any]]]:
    """(file, model entry) for every model of MODELS declared in a YAML file under models_dir."""
    found = []
    for path in sorted([*models_dir.rglob("*.yml"), *models_dir.rglob("*.yaml")]):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise CatalogueError(
                f"{path}: not valid YAML, so its columns are unknown: {exc}"
            ) from exc
        models = (doc.get("models") if isinstance(doc, Mapping) else None) or []
        # tables written outside dbt (the CLV model step) are declared as source tables
        for source in (doc.get("sources") if isinstance(doc, Mapping) else None) or []:
            if isinstance(source, Mapping):
                models = [*models, *(source.get("tables") or [])]
        for entry in models:
            if isinstance(entry, Mapping) and entry.get("name") in MODELS:
                found.append((path, entry))
    return found


def load_catalogue(models_dir: Path | None = None) -> Catalogue:
    """Read the column catalogue (name → Column) from the dbt YAML files under models_dir
    (default: dbt_project/models/marts)."""
    entries = _model_entries(models_dir or MARTS_MODELS_DIR)
    declared = [entry["name"] for _, entry in entries]
    for model in MODELS:
        if declared.count(model) > 1:
            files = ", ".join(str(p) for p, e in entries if e["name"] == model)
            raise CatalogueError(f"model {model} is declared more than once ({files}); keep one.")

    columns: dict[str, Column] = {}
    unusable: dict[str, str] = {}
    # facts first, so a name declared by both models resolves to customer_facts
    for path, entry in sorted(entries, key=lambda item: MODELS.index(item[1]["name"])):
        for spec in entry.get("columns") or []:
            name = spec.get("name") if isinstance(spec, Mapping) else None
            if not isinstance(name, str) or name in KEY_COLUMNS or name in columns:
                continue
            data_type = spec.get("data_type")
            kind = kind_of(data_type) if isinstance(data_type, str) else None
            if kind is None:
                unusable.setdefault(
                    name,
                    f"{entry['name']}.{name} is declared in {path} "
                    + (
                        f"with data_type {data_type!r}, which a condition cannot compare"
                        if data_type
                        else "without a data_type; add one there to use it in segments"
                    ),
                )
                continue
            unusable.pop(name, None)
            columns[name] = Column(
                name=name,
                model=entry["name"],
                data_type=data_type,
                kind=kind,
                declared_in=path,
                accepted_values=_accepted_values(spec),
            )
    return Catalogue(
        columns=columns,
        unusable=unusable,
        missing_models=tuple(m for m in MODELS if m not in declared),
    )
