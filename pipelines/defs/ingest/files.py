"""Whole-file checks of a landed file, before any row is read.

A file that fails here cannot be read at all (binary, wrong encoding, wrong columns): the
`IngestError` names the file, what is wrong and what to do, and nothing of it is loaded.
These checks stream the bytes; none of them looks at rows one by one.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .spec import CsvFormat, IngestError, LandedFile

_CHUNK = 1 << 20
# A JSON line or CSV record longer than this is not an export row; DuckDB's default is 2 MB.
MAX_LINE_BYTES = 64 << 20
# Limits of a CSV header line. Real exports have tens of columns (Shopify's Orders export 80,
# ~1.5 KB); a 1.2 MB header of 50,000 columns took DuckDB 97 s and 6.5 GB before failing.
MAX_HEADER_BYTES = 64 << 10
MAX_HEADER_COLUMNS = 1000
_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (an .xlsx workbook?): export the sheet as CSV",
    b"\x1f\x8b": "gzip-compressed: decompress it into the landing folder",
    b"%PDF": "a PDF: land the CSV/JSON export instead",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office file: export the sheet as CSV",
}


# Characters that make DuckDB's readers (read_csv, read_text, read_json) treat a path as a
# glob pattern: `charges_*.jsonl` would read every Stripe file, `orders_2026-1?.csv` ten
# months. DuckDB 2.0 has no option to turn globbing off and cannot escape a backslash, so
# such a path is handed to DuckDB as a symlink with a plain name (see `duckdb_path`).
GLOB_CHARS = frozenset("*?[]{}\\")


@contextmanager
def duckdb_path(path: Path) -> Iterator[str]:
    """A path string that DuckDB reads as exactly this one file, never as a pattern.

    A plain path is returned as is. A path with a glob character is linked under a plain
    name (`file.<suffix>`) in a private temporary folder for the duration of the block.
    """
    text = os.fspath(path)
    if not GLOB_CHARS.intersection(text):
        yield text
        return
    with tempfile.TemporaryDirectory(prefix="segments-ingest-") as tmp:
        if GLOB_CHARS.intersection(tmp):
            raise IngestError(
                f"{path.name}: the temporary folder {tmp} has a glob character in its path; "
                "set TMPDIR to a folder without * ? [ ] { } or \\ and re-run."
            )
        suffix = "".join(c for c in path.suffix if c.isalnum() or c == ".")
        link = Path(tmp) / f"file{suffix}"
        link.symlink_to(path.resolve())
        yield os.fspath(link)


def entry_problem(path: Path, landing_dir: Path, extensions: tuple[str, ...]) -> str | None:
    """Why a landing-zone entry cannot be read as a data file, in one line; None when it is a
    readable regular file inside the landing zone, or a folder the walk goes into.

    Decided from the file system alone (lstat, the link's resolved path, access bits): the
    entry is never opened, so no byte of a file outside the landing zone reaches a message,
    and a named pipe never blocks the run.
    """
    rel = path.relative_to(landing_dir).as_posix()
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):  # a dangling link, or a loop of links
        return (
            f"{rel}: a symbolic link to nothing (its target is missing); remove the link or "
            "land the file itself."
        )
    parts = path.relative_to(landing_dir).parts
    # A source folder (landing/<source>, landing/generic/<name>) may itself be a link to a
    # mount or an SFTP drop folder; nothing inside it may point out of it.
    depth = 2 if parts[0] == "generic" else 1
    roots = [landing_dir / Path(*parts[:i]) for i in range(min(depth, len(parts) - 1) + 1)]
    is_root = len(parts) <= depth and resolved.is_dir()
    if not is_root and not any(resolved.is_relative_to(r.resolve()) for r in roots):
        return (
            f"{rel}: a symbolic link to a place outside the landing zone, which is never "
            "read; copy the file into the landing zone instead of linking it."
        )
    mode = resolved.stat().st_mode
    if stat.S_ISDIR(mode):
        if path.suffix.lower() in extensions:
            return (
                f"{rel}: a folder named like a data file; rename it or move the export out of it."
            )
        return None
    if not stat.S_ISREG(mode):
        kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket or device"
        return (
            f"{rel}: {kind}, not a regular file, so it is not read; remove it and land the "
            "export as a regular file."
        )
    if not os.access(resolved, os.R_OK):
        return (
            f"{rel}: no read permission for this process; give it read access "
            "(e.g. chmod a+r) or remove the file."
        )
    return None


# Names that browsers, rsync and copy tools give files still being written.
NOT_READY_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".download", ".filepart", "~")


def is_ready(path: Path) -> bool:
    """False for a file still being written: empty (0 bytes), or named like a partial copy.

    Such a file is skipped without a manifest row, so the run after it gets content loads it.
    """
    return not path.name.endswith(NOT_READY_SUFFIXES) and path.stat().st_size > 0


def sha256_of(path: Path) -> tuple[str, int]:
    """Content hash and size of a file, streamed (files can be GBs)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@dataclass(frozen=True)
class TextFacts:
    """What one pass over a text file learned: physical lines, whether any is empty, and
    whether it holds a carriage return at all (CRLF endings: lines need trimming)."""

    lines: int
    has_blank_line: bool
    has_cr: bool = True


def check_text(file: LandedFile, encoding: str, *, blank_lines: bool = True) -> TextFacts:
    """Raise IngestError unless the file is text in `encoding` (utf-8: BOM tolerated).

    Binary content (NUL bytes, archive magic numbers) and invalid UTF-8 are file-level
    problems: reading such a file row by row would quarantine garbage, not rows. Streams the
    file once; also counts its lines and looks for empty ones for the CSV fast path
    (`blank_lines=False` skips that search, a third of this pass; has_blank_line is then
    False).
    """
    with file.path.open("rb") as fh:
        head = fh.read(8)
        for magic, what in _MAGIC.items():
            if head.startswith(magic):
                raise IngestError(f"{file.rel}: the file is {what}.")
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")() if encoding == "utf-8" else None
        offset = newlines = 0
        blank_line = has_cr = False
        last = b""
        while chunk := fh.read(_CHUNK):
            if b"\x00" in chunk:
                at = offset + chunk.index(b"\x00")
                raise IngestError(
                    f"{file.rel}: byte {at} is a NUL byte, so this is a binary file, not a "
                    "text export. Replace it with the CSV/JSON Lines export of the source."
                )
            if decoder is not None:
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    start = max(exc.start - pending, 0)
                    line = newlines + chunk[:start].count(b"\n") + 1
                    raise IngestError(
                        f"{file.rel}: not valid UTF-8 at byte {offset + start} (line {line}). "
                        "Re-export the file as UTF-8; for a generic source whose system writes "
                        "Latin-1, set `encoding: latin-1` in its mapping.yml."
                    ) from exc
            newlines += chunk.count(b"\n")
            if blank_lines and not blank_line:
                # An empty line anywhere (the previous chunk's tail counts, chunks split lines).
                joined = last + chunk
                blank_line = b"\n\n" in joined or b"\n\r\n" in joined
            has_cr = has_cr or b"\r" in chunk
            last = chunk[-2:]
            offset += len(chunk)
        if decoder is not None:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                raise IngestError(
                    f"{file.rel}: ends in the middle of a UTF-8 character (truncated copy?). "
                    "Land the complete file again."
                ) from exc
    lines = newlines + (1 if last and not last.endswith(b"\n") else 0)
    return TextFacts(lines=lines, has_blank_line=blank_line, has_cr=has_cr)


def read_header(file: LandedFile, fmt: CsvFormat) -> dict[str, int]:
    """Check the header line and map each column the plan reads to its 1-based position.

    Raises IngestError for a missing/renamed required column, an ambiguous duplicate header,
    or a file that is evidently delimited by another character.
    """
    with file.path.open("rb") as fh:
        first = fh.readline(MAX_HEADER_BYTES + 1)
    if len(first.rstrip(b"\r\n")) > MAX_HEADER_BYTES:
        raise IngestError(
            f"{file.rel}: the header line is longer than {MAX_HEADER_BYTES:,} bytes "
            "(MAX_HEADER_BYTES in pipelines/defs/ingest/files.py), so this is not an export "
            "of this source; check the file's first line."
        )
    text = first.decode("utf-8-sig" if fmt.encoding == "utf-8" else fmt.encoding)
    text = text.rstrip("\r\n")
    if not text.strip():
        raise IngestError(
            f"{file.rel}: line 1 is empty; the header row must be the first line of the file."
        )
    header = next(csv.reader([text], delimiter=fmt.delimiter))
    found = [h.strip() for h in header]
    if len(found) > MAX_HEADER_COLUMNS:
        raise IngestError(
            f"{file.rel}: the header has {len(found):,} columns, more than "
            f"{MAX_HEADER_COLUMNS:,} (MAX_HEADER_COLUMNS in pipelines/defs/ingest/files.py), "
            "so this is not an export of this source; check the file's first line."
        )
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(found, start=1):
        positions.setdefault(name.casefold(), []).append(i)

    if fmt.check_header is not None:
        fmt.check_header(found, file.rel)
    missing = [c for c in fmt.required if c.casefold() not in positions]
    if missing:
        raise IngestError(_missing_columns_message(file.rel, fmt, missing, found, text))
    mapping = {}
    for col in fmt.columns:
        hits = positions.get(col.casefold(), [])
        if len(hits) > 1:
            raise IngestError(
                f"{file.rel}: column {col!r} appears {len(hits)} times in the header "
                f"(positions {hits}); rename or remove the extra copies."
            )
        if hits:
            mapping[col] = hits[0]
    mapping["__n_columns__"] = len(found)
    return mapping


def _missing_columns_message(
    rel: str, fmt: CsvFormat, missing: list[str], found: list[str], text: str
) -> str:
    shown = ", ".join(repr(f[:60]) for f in found[:40]) + (", ..." if len(found) > 40 else "")
    msg = f"{rel}: missing required column(s) {', '.join(repr(m) for m in missing)}."
    others = [d for d in (",", ";", "\t", "|") if d != fmt.delimiter and d in text]
    if len(found) == 1 and others:
        return (
            f"{msg} The header has a single column {found[0][:80]!r}: the file looks "
            f"{others[0]!r}-delimited, but this source reads {fmt.delimiter!r}. Re-export it "
            f"with {fmt.delimiter!r} as the delimiter (generic sources: set `delimiter`)."
        )
    renamed = []
    for m in missing:
        close = difflib.get_close_matches(m, found, n=1, cutoff=0.6)
        if close:
            renamed.append(f"{close[0]!r} looks like a renamed {m!r}")
    hint = f" ({'; '.join(renamed)})" if renamed else ""
    return (
        f"{msg} The header has: {shown}{hint}. Export the file with the source's standard "
        "column names."
    )
