"""Any transactions CSV plus a mapping.yml → raw.generic_transactions (one row per line).

Each folder `landing/generic/<source_name>/` holds a `mapping.yml` and CSV files; the folder
name becomes `source_name` (the channel in the segments). The mapping says which CSV column
is the timestamp, amount, customer id ... (docs/generic_source.md). A folder whose mapping is
missing or invalid fails as a whole, with an error naming mapping.yml, the key and the fix.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.lib.duck import sql_str

from . import rules as r
from .files import entry_problem, is_ready
from .mapping import DOCS, IDENTITY_KEYS, MAPPING_FILES, GenericMapping, load_mapping
from .spec import Check, CsvFormat, IngestError, LandedFile, ReadPlan, RunContext, SourceSpec

DATA_EXTENSIONS = (".csv", ".tsv", ".txt")

COLUMNS = (
    ("source_name", "VARCHAR"),
    ("transaction_id", "VARCHAR"),
    ("customer_id", "VARCHAR"),
    ("email", "VARCHAR"),
    ("phone", "VARCHAR"),
    ("occurred_at", "TIMESTAMP"),
    ("amount", "DECIMAL(18,2)"),
    ("currency", "VARCHAR"),
    ("quantity", "INTEGER"),
    ("category", "VARCHAR"),
    ("product_name", "VARCHAR"),
    ("country", "VARCHAR"),
)


def discover(landing_dir: Path, source: str) -> tuple[list[LandedFile], dict[str, str]]:
    """Every data file of every `generic/<source_name>/` folder, with its mapping.

    Failures: files of a folder whose mapping.yml is missing/invalid, files with another
    extension, and files dropped directly into `generic/` (which source would they be?).
    """
    root = landing_dir / source
    files: list[LandedFile] = []
    failures: dict[str, str] = {}
    if not root.is_dir():
        return files, failures
    for entry in sorted(root.iterdir()):
        rel = entry.relative_to(landing_dir).as_posix()
        if entry.name.startswith("."):
            continue
        problem = entry_problem(entry, landing_dir, ())
        if problem is not None:
            failures[rel] = problem
            continue
        if entry.is_file():
            failures[rel] = (
                f"{rel}: generic files go in a folder per source system, "
                f"generic/<source_name>/{entry.name}, next to a mapping.yml ({DOCS})."
            )
            continue
        data = []
        for p in sorted(entry.iterdir()):
            if p.name.startswith(".") or p.name in MAPPING_FILES:
                continue
            problem = entry_problem(p, landing_dir, DATA_EXTENSIONS)
            if problem is not None:
                failures[p.relative_to(landing_dir).as_posix()] = problem
            elif p.is_file():
                data.append(p)
        try:
            mapping = load_mapping(entry, landing_dir)
        except IngestError as exc:
            for p in data:
                failures[p.relative_to(landing_dir).as_posix()] = str(exc)
            if not data:
                failures[rel + "/"] = str(exc)
            continue
        for p in data:
            prel = p.relative_to(landing_dir).as_posix()
            if p.suffix.lower() in DATA_EXTENSIONS or not is_ready(p):
                files.append(LandedFile(p, prel, {"mapping": mapping}))
            else:
                failures[prel] = (
                    f"{prel}: generic data files must end in {', '.join(DATA_EXTENSIONS)}; "
                    "move anything else out of the landing zone."
                )
    return files, failures


def _check_mapped_headers(m: GenericMapping):
    def check(header: list[str], rel: str) -> None:
        have = {h.casefold() for h in header}
        for key, col in m.columns.items():
            if col.casefold() not in have:
                raise IngestError(
                    f"{m.path}: columns.{key} names {col!r}, which {rel} does not have. "
                    f"The CSV has: {', '.join(repr(h) for h in header[:40])}. Fix the mapping "
                    "(or the file's header)."
                )

    return check


def _timestamp(m: GenericMapping, text: str) -> str:
    """The mapped timestamp as naive UTC: formats with %z carry their own offset; naive
    values are in the mapping's `timezone`."""
    t = f"trim({text})"
    if m.timestamp_formats:
        aware = [f for f in m.timestamp_formats if "%z" in f]
        naive = [f for f in m.timestamp_formats if "%z" not in f]
        with_offset = (
            f"timezone('UTC', try_strptime({t}, [{', '.join(sql_str(f) for f in aware)}]))"
            if aware
            else "NULL"
        )
        local = (
            f"try_strptime({t}, [{', '.join(sql_str(f) for f in naive)}])::TIMESTAMP"
            if naive
            else "NULL"
        )
    else:
        has_offset = rf"regexp_matches({t}, '(Z|[+-]\d{{2}}(:?\d{{2}})?)$')"
        with_offset = (
            f"CASE WHEN {has_offset} THEN timezone('UTC', TRY_CAST({t} AS TIMESTAMPTZ)) END"
        )
        local = f"CASE WHEN NOT {has_offset} THEN TRY_CAST({t} AS TIMESTAMP) END"
    if m.timezone != "UTC":
        local = f"timezone('UTC', timezone({sql_str(m.timezone)}, {local}))"
    return f"coalesce({with_offset}, {local})"


def plan(file: LandedFile, ctx: RunContext) -> ReadPlan:
    m: GenericMapping = file.options["mapping"]
    c = m.columns

    def text(key: str) -> str:
        return r.src(c[key]) if key in c else "NULL::VARCHAR"

    quantity = r.integer(text("quantity")) if "quantity" in c else "1"
    if "amount" in c:
        amount = r.decimal(text("amount"))
    else:
        amount = f"({quantity} * {r.decimal(text('unit_price'))})"
    fields = {
        "source_name": sql_str(m.source_name),
        "transaction_id": (
            r.clean(text("order_id"))
            if "order_id" in c
            else f"{sql_str(file.rel + ':')} || _source_line"
        ),
        "customer_id": r.clean(text("customer_id")),
        "email": r.clean(text("email")),
        "phone": r.clean(text("phone")),
        "occurred_at": _timestamp(m, text("timestamp")),
        "amount": amount,
        "currency": r.upper_code(text("currency"))
        if "currency" in c
        else sql_str(m.currency or ""),
        "quantity": quantity,
        "category": r.clean(text("category")),
        "product_name": r.clean(text("product_name")),
        "country": r.clean(text("country")),
    }
    fmt_hint = " or ".join(m.timestamp_formats) or "ISO 8601"
    identity = [c[k] for k in IDENTITY_KEYS if k in c]
    checks = [
        r.required(c["timestamp"]),
        r.parses("invalid_timestamp", c["timestamp"], "occurred_at", f"a timestamp in {fmt_hint}"),
        r.required(*dict.fromkeys(identity), label=" and ".join(identity)),
    ]
    for key in ("amount", "unit_price"):
        if key in c and (key == "amount" or "amount" not in c):
            checks += [
                r.required(c[key]),
                r.parses("invalid_amount", c[key], r.decimal(text(key)), "a number"),
            ]
    if "quantity" in c:
        checks.append(r.parses("invalid_value", c["quantity"], "quantity", "a whole number"))
    if "amount" not in c:
        checks.append(
            Check(
                "invalid_amount",
                "amount IS NULL",
                f"{sql_str(c['unit_price'] + ' x ' + c.get('quantity', '1') + ' = ')} || "
                f"{r.quoted(text('unit_price'))} || ' x ' || {r.quoted(text('quantity'))} || "
                "' is out of range'",
            )
        )
    if "order_id" in c:
        checks.append(r.required(c["order_id"]))
    if "currency" in c:
        checks += [r.required(c["currency"]), r.known_currency(c["currency"], "currency")]
    checks += [
        r.amount_in_range(c.get("amount") or c["unit_price"], "amount"),
        r.not_before_start(c["timestamp"], "CAST(occurred_at AS DATE)"),
        r.not_in_future(c["timestamp"], "CAST(occurred_at AS DATE)"),
    ]
    headers = tuple(dict.fromkeys(c.values()))
    return ReadPlan(
        format=CsvFormat(
            columns=headers,
            required=headers,
            delimiter=m.delimiter,
            encoding=m.encoding,
            check_header=_check_mapped_headers(m),
        ),
        fields=tuple(fields.items()),
        date_field="occurred_at",
        checks=tuple(checks),
    )


SPEC = SourceSpec(
    name="generic",
    table="generic_transactions",
    description=(
        "Transactions from any other system, one row per line of a mapped CSV; `source_name` "
        "is the folder (the channel). Origin: `landing/generic/<source_name>/*.csv` read "
        "through that folder's mapping.yml (docs/generic_source.md). Negative amounts are "
        "refunds. Partitioned by `occurred_at` (UTC date). Rejected lines go to "
        "quarantine.generic."
    ),
    columns=COLUMNS,
    plan=plan,
    extensions=DATA_EXTENSIONS,
    # An order id may span several lines of one file (one order, several products); the
    # same order id in another file of the same source is a re-export.
    key="source_name || '/' || transaction_id",
    key_label="order id",
    unique_within_file=False,
    discover=discover,
    fingerprint=lambda file, ctx: file.options["mapping"].sha256,
)
