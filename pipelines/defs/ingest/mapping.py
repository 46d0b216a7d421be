"""A generic source's mapping.yml: parsed and validated before any of its files is read.

Every problem raises `IngestError` naming the mapping file, the key and the fix, and fails the
whole folder (docs/generic_source.md is the user-facing reference).
"""

from __future__ import annotations

import hashlib
import zoneinfo
from collections.abc import Mapping as MappingT
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipelines.lib.currencies import is_iso_4217

from .files import entry_problem
from .spec import IngestError

MAPPING_FILES = ("mapping.yml", "mapping.yaml")
TOP_LEVEL_KEYS = {"delimiter", "encoding", "timestamp_format", "timezone", "currency", "columns"}
COLUMN_KEYS = (
    "timestamp",
    "amount",
    "customer_id",
    "email",
    "phone",
    "order_id",
    "quantity",
    "unit_price",
    "currency",
    "category",
    "product_name",
    "country",
)
IDENTITY_KEYS = ("customer_id", "email", "phone")
ENCODINGS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
}
DOCS = "see docs/generic_source.md"


@dataclass(frozen=True)
class GenericMapping:
    """A validated mapping.yml. `columns` maps logical keys to CSV headers (mapped only)."""

    source_name: str
    path: str  # relative to the landing dir, for messages
    columns: MappingT[str, str]
    delimiter: str = ","
    encoding: str = "utf-8"
    timestamp_formats: tuple[str, ...] = ()  # empty: ISO 8601
    timezone: str = "UTC"
    currency: str | None = None  # fixed currency when no currency column is mapped
    sha256: str = ""


def _fail(path: str, what: str) -> IngestError:
    return IngestError(f"{path}: {what} ({DOCS}).")


def parse_mapping(text: str, source_name: str, path: str) -> GenericMapping:
    """Validate mapping.yml text; IngestError names the file, the key and the fix."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail(path, f"is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise _fail(path, "must be a YAML mapping with a `columns:` section")
    unknown = set(doc) - TOP_LEVEL_KEYS
    if unknown:
        raise _fail(path, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(TOP_LEVEL_KEYS)}")
    cols = doc.get("columns")
    if not isinstance(cols, dict):
        raise _fail(path, "needs a `columns:` section mapping logical names to CSV headers")
    bad = set(cols) - set(COLUMN_KEYS)
    if bad:
        raise _fail(path, f"columns: unknown key(s) {sorted(bad)}; allowed: {list(COLUMN_KEYS)}")
    mapped = {}
    for key, header in cols.items():
        if header is None or header == "-":
            continue
        if not isinstance(header, str) or not header.strip():
            raise _fail(path, f"columns.{key} must be a CSV column header (text) or null")
        mapped[key] = header.strip()
    if "timestamp" not in mapped:
        raise _fail(path, "columns.timestamp is required: the column with the transaction time")
    if "amount" not in mapped and "unit_price" not in mapped:
        raise _fail(path, "columns.amount is required (or columns.unit_price, with quantity)")
    if not any(k in mapped for k in IDENTITY_KEYS):
        raise _fail(path, "map at least one of columns.customer_id, columns.email, columns.phone")

    delimiter = doc.get("delimiter", ",")
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in ('"', "\n", "\r"):
        raise _fail(
            path, f'delimiter must be one character (use "\\t" for tabs), not {delimiter!r}'
        )
    encoding = ENCODINGS.get(str(doc.get("encoding", "utf-8")).lower())
    if encoding is None:
        raise _fail(
            path, f"encoding {doc.get('encoding')!r} is not supported; use utf-8 or latin-1"
        )
    fmts = doc.get("timestamp_format") or ()
    fmts = (fmts,) if isinstance(fmts, str) else tuple(fmts)
    if not all(isinstance(f, str) and "%" in f for f in fmts):
        raise _fail(
            path,
            "timestamp_format must be a strptime format like '%Y-%m-%d %H:%M:%S' "
            "(or a list of them)",
        )
    tz = str(doc.get("timezone", "UTC"))
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise _fail(
            path, f"timezone {tz!r} is not an IANA time zone name like Europe/Warsaw"
        ) from exc
    currency = doc.get("currency")
    if currency is not None:
        currency = str(currency).strip().upper()
        if not is_iso_4217(currency):
            raise _fail(path, f"currency {currency!r} is not an ISO 4217 code like EUR")
    if currency is None and "currency" not in mapped:
        raise _fail(path, "set a fixed `currency:` (e.g. EUR) or map columns.currency")
    return GenericMapping(
        source_name=source_name,
        path=path,
        columns=mapped,
        delimiter=delimiter,
        encoding=encoding,
        timestamp_formats=fmts,
        timezone=tz,
        currency=currency,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


def load_mapping(folder: Path, landing_dir: Path) -> GenericMapping:
    found = [folder / n for n in MAPPING_FILES if (folder / n).is_file()]
    rel = folder.relative_to(landing_dir).as_posix()
    if not found:
        raise IngestError(
            f"{rel}/ has no mapping.yml, so its files cannot be read: add one that names the "
            f"timestamp, amount and customer columns ({DOCS})."
        )
    problem = entry_problem(found[0], landing_dir, (".yml", ".yaml"))
    if problem is not None:
        raise IngestError(problem)
    try:
        text = found[0].read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{rel}/{found[0].name}: not valid UTF-8 at byte {exc.start}; save it as UTF-8."
        ) from exc
    return parse_mapping(text, folder.name, found[0].relative_to(landing_dir).as_posix())
