"""pipelines/defs/ingest/files.py: whole-file checks name the file, the problem and the fix."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.ingest.files import (
    check_text,
    duckdb_path,
    is_ready,
    read_header,
    sha256_of,
)
from pipelines.defs.ingest.records import load_lines
from pipelines.defs.ingest.spec import CsvFormat, IngestError, LandedFile

FMT = CsvFormat(columns=("id", "amount", "note"), required=("id", "amount"))


def landed(tmp_path: Path, data: bytes, name: str = "f.csv") -> LandedFile:
    path = tmp_path / name
    path.write_bytes(data)
    return LandedFile(path, f"shopify/{name}")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x1f\x8b\x08\x00gzip", "shopify/f.csv: the file is gzip-compressed"),
        (b"id,amount\n1,\x002\n", "shopify/f.csv: byte 12 is a NUL byte"),
        (b"id,amount\n1,2\n3,caf\xe9\n", r"shopify/f.csv: not valid UTF-8 at byte 19 \(line 3\)"),
        (b"id,amount\n1,2\xc3", "shopify/f.csv: ends in the middle of a UTF-8 character"),
    ],
)
def test_unreadable_files_fail_with_file_and_fix(
    tmp_path: Path, data: bytes, expected: str
) -> None:
    with pytest.raises(IngestError, match=expected):
        check_text(landed(tmp_path, data), "utf-8")


def test_latin1_is_accepted_when_the_source_says_so(tmp_path: Path) -> None:
    facts = check_text(landed(tmp_path, b"id,amount\n3,caf\xe9\n"), "latin-1")
    assert (facts.lines, facts.has_blank_line) == (2, False)


def test_line_count_and_blank_lines(tmp_path: Path) -> None:
    assert check_text(landed(tmp_path, b"a\r\nb"), "utf-8").lines == 2
    assert check_text(landed(tmp_path, b"a\r\n\r\nb\n"), "utf-8").has_blank_line


def test_header_with_bom_maps_columns_case_insensitively(tmp_path: Path) -> None:
    file = landed(tmp_path, "\ufeffID, Amount ,extra\n".encode())
    assert read_header(file, FMT) == {"id": 1, "amount": 2, "__n_columns__": 3}


def test_duplicate_header_is_ambiguous(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="column 'amount' appears 2 times"):
        read_header(landed(tmp_path, b"id,amount,amount\n"), FMT)


def test_empty_first_line(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="line 1 is empty"):
        read_header(landed(tmp_path, b"\nid,amount\n"), FMT)


def test_readiness_and_hash(tmp_path: Path) -> None:
    assert not is_ready(landed(tmp_path, b"").path)
    assert not is_ready(landed(tmp_path, b"id\n", "f.csv.part").path)
    path = landed(tmp_path, b"id\n").path
    assert is_ready(path)
    assert sha256_of(path) == (hashlib.sha256(b"id\n").hexdigest(), 3)


@pytest.mark.parametrize("name", ["a_*.csv", "a_?.csv", "a_[1].csv", "a_{1,2}.csv", "a\\*.csv"])
def test_a_file_name_with_glob_characters_reads_only_that_file(tmp_path: Path, name: str) -> None:
    # Regression: DuckDB expanded `charges_*.jsonl` as a pattern and read every Stripe file.
    for other in ("a_1.csv", "a_2.csv", "a_x.csv"):
        (tmp_path / other).write_text("other\n")
    (tmp_path / name).write_text("mine\n", encoding="latin-1")
    con = duckdb.connect()
    with duckdb_path(tmp_path / name) as path:
        assert con.execute("SELECT content FROM read_text(?)", [path]).fetchall() == [("mine\n",)]
    # The streaming line reader (latin-1 / big files) and the whole-file one.
    for encoding in ("latin-1", "utf-8"):
        load_lines(con, LandedFile(tmp_path / name, f"shopify/{name}"), encoding)
        assert con.execute("SELECT line FROM _lines").fetchall() == [("mine",)]


@pytest.mark.parametrize(
    ("columns", "width", "expected"),
    [
        (50_000, 20, "header line is longer than 65,536 bytes (MAX_HEADER_BYTES"),
        (1_500, 8, "header has 1,500 columns, more than 1,000 (MAX_HEADER_COLUMNS"),
    ],
)
def test_absurd_header_is_refused_before_any_row_is_read(
    tmp_path: Path, columns: int, width: int, expected: str
) -> None:
    # Regression: a 1.2 MB header of 50,000 columns took 97 s and 6.5 GB in DuckDB.
    header = ",".join(f"c{i:0{width}d}" for i in range(columns))
    file = landed(tmp_path, (header + "\n" + "1," * (columns - 1) + "1\n").encode())
    with pytest.raises(IngestError, match=re.escape(expected)) as caught:
        read_header(file, FMT)
    assert str(caught.value).startswith("shopify/f.csv: ") and "\n" not in str(caught.value)
