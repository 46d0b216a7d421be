"""pipelines/defs/ingest/records.py: CSV and JSON Lines files as text rows with exact lines.

The CSV fast path (DuckDB's read_csv) and the exact path (lines + RFC 4180 regex) must give
the same rows wherever both apply; files the fast path cannot tie to lines take the exact one.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.defs.ingest import records
from pipelines.defs.ingest.spec import CsvFormat, JsonLinesFormat, LandedFile
from pipelines.lib import duck

from .conftest import FIXTURES

FMT = CsvFormat(columns=("id", "name", "amount"), required=("id", "amount"))


def text_rows(path: Path, fmt: CsvFormat = FMT, *, fast: bool = True) -> tuple[bool, list]:
    """(fast path taken, [(line, malformed, *labels, raw record)]) of one file."""
    with duck.connect(":memory:") as con:
        rel = records.csv_text(con, LandedFile(path, path.name), fmt, fast=fast)
        labels = ", ".join(f'"@{c}"' for c in fmt.columns)
        rows = con.execute(
            f"SELECT _source_line, _malformed, {labels}, {rel.raw_record} "
            f"FROM {rel.name} ORDER BY 1"
        ).fetchall()
    return rel.lazy_raw_record, rows


def write(tmp_path: Path, text: str, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_fast_and_exact_paths_agree_on_a_clean_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'id,name,amount\r\n1,"Kowalski, Jan",10\r\n2,"say ""hi""",\r\n3,,7\r\n')
    fast, rows = text_rows(path)
    exact, exact_rows = text_rows(path, fast=False)
    assert (fast, exact) == (True, False)
    assert (
        rows
        == exact_rows
        == [
            (2, None, "1", "Kowalski, Jan", "10", '1,"Kowalski, Jan",10'),
            (3, None, "2", 'say "hi"', None, '2,"say ""hi""",'),
            (4, None, "3", None, "7", "3,,7"),
        ]
    )


def test_wrong_field_count_is_one_malformed_record_on_both_paths(tmp_path: Path) -> None:
    path = write(tmp_path, "id,name,amount\n1,a,10\n2,b\n3,c,30,extra\n4,d,40\n")
    fast, rows = text_rows(path)
    assert fast
    assert rows == text_rows(path, fast=False)[1]
    assert [(r[0], r[1]) for r in rows] == [
        (2, None),
        (3, "expected 3 fields like the header, found 2"),
        (4, "expected 3 fields like the header, found 4"),
        (5, None),
    ]
    assert rows[1][-1] == "2,b"


def test_quoted_newline_keeps_the_line_numbers_of_later_records(tmp_path: Path) -> None:
    path = write(tmp_path, 'id,name,amount\n1,"two\nlines",10\n2,b,20\n\n3,c,30\n')
    fast, rows = text_rows(path)
    assert not fast
    assert [r[:5] for r in rows] == [
        (2, None, "1", "two\nlines", "10"),
        (4, None, "2", "b", "20"),
        (6, None, "3", "c", "30"),  # line 5 is empty
    ]


def test_text_after_a_closing_quote_spoils_only_its_own_record(tmp_path: Path) -> None:
    path = write(tmp_path, 'id,name,amount\n1,a,10\n2,"Anna" K,20\n3,c,30\n')
    fast, rows = text_rows(path)
    assert not fast  # DuckDB rejects it as UNQUOTED VALUE: not a field-count problem
    assert [(r[0], r[1] is None, r[2]) for r in rows] == [
        (2, True, "1"),
        (3, False, None),
        (4, True, "3"),
    ]
    assert rows[1][1] == "not valid CSV: text after a closing quote, or a quote left open"
    assert rows[1][-1] == '2,"Anna" K,20'


def test_quote_inside_an_unquoted_field_is_literal_on_both_paths(tmp_path: Path) -> None:
    path = write(tmp_path, 'id,name,amount\n1,Anna "K" Nowak,10\n')
    (fast, rows), (_, exact) = text_rows(path), text_rows(path, fast=False)
    assert fast
    assert (
        [r[:-1] for r in rows]
        == [r[:-1] for r in exact]
        == [(2, None, "1", 'Anna "K" Nowak', "10")]
    )
    # The fast path re-joins the fields (quoting where CSV needs it); the exact path keeps
    # the line as written.
    assert (rows[0][-1], exact[0][-1]) == ('1,"Anna ""K"" Nowak",10', '1,Anna "K" Nowak,10')


def test_absent_optional_column_reads_as_null(tmp_path: Path) -> None:
    path = write(tmp_path, "amount,id\n10,1\n")
    assert text_rows(path)[1] == [(2, None, "1", None, "10", "10,1")]


def test_latin1_and_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes("id;name;amount\n1;Größe;10\n".encode("latin-1"))
    fmt = CsvFormat(FMT.columns, FMT.required, delimiter=";", encoding="latin-1")
    assert text_rows(path, fmt)[1] == [(2, None, "1", "Größe", "10", "1;Größe;10")]


def test_jsonl_keeps_every_non_empty_line_with_its_number(tmp_path: Path) -> None:
    path = write(tmp_path, '{"a": 1}\n\n[1]\n"x"\n{"a": \n', "f.jsonl")
    with duck.connect(":memory:") as con:
        rel = records.jsonl_text(con, LandedFile(path, "f.jsonl"), JsonLinesFormat({"a": "$.a"}))
        rows = con.execute(f'SELECT _source_line, _malformed, "@a" FROM {rel.name} ORDER BY 1')
        assert rows.fetchall() == [
            (1, None, "1"),
            (3, "valid JSON but not an object: ARRAY", None),
            (4, "valid JSON but not an object: VARCHAR", None),
            (5, "not valid JSON (a truncated or cut-off line?)", None),
        ]


def test_paypal_fixture_takes_the_fast_path_despite_bom_and_crlf() -> None:
    from pipelines.defs.ingest import paypal

    path = FIXTURES / "paypal" / "activity_2024-03.csv"
    fmt = CsvFormat(paypal.REQUIRED + paypal.OPTIONAL, paypal.REQUIRED)
    (fast, rows), (_, exact) = text_rows(path, fmt), text_rows(path, fmt, fast=False)
    assert fast and len(rows) == 10 and rows[0][:3] == (2, None, "05/03/2024")
    assert [r[:-1] for r in rows] == [r[:-1] for r in exact]


def test_reject_tables_do_not_leak_between_files(tmp_path: Path) -> None:
    bad = write(tmp_path, "id,name,amount\n1,a\n", "bad.csv")
    good = write(tmp_path, "id,name,amount\n1,a,10\n", "good.csv")
    with duck.connect(":memory:") as con:
        records.csv_text(con, LandedFile(bad, "bad.csv"), FMT)
        rel = records.csv_text(con, LandedFile(good, "good.csv"), FMT)
        malformed = f"SELECT count(*) FROM {rel.name} WHERE _malformed IS NOT NULL"
        assert con.execute(malformed).fetchone() == (0,)


def test_jsonl_with_a_utf8_bom_reads_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n{"a": 2}\r\n')
    with duck.connect(":memory:") as con:
        rel = records.jsonl_text(con, LandedFile(path, "f.jsonl"), JsonLinesFormat({"a": "$.a"}))
        rows = con.execute(f'SELECT _source_line, _malformed, "@a" FROM {rel.name} ORDER BY 1')
        assert rows.fetchall() == [(1, None, "1"), (2, None, "2")]


def test_a_lone_carriage_return_stays_inside_its_line(tmp_path: Path) -> None:
    # read_csv takes any CR for a line break and drops the text after a lone one: a file with
    # a CR is split on LF instead (records.load_lines)
    path = write(tmp_path, 'id,name,amount\r\n1,"a\rb",10\r\n2,c\rd,20\r\n')
    assert [r[:5] for r in text_rows(path, fast=False)[1]] == [
        (2, None, "1", "a\rb", "10"),
        (3, None, "2", "c\rd", "20"),
    ]
    jsonl = write(tmp_path, '{"a": "x\ry"}\n{"a": 2}\n', "f.jsonl")
    with duck.connect(":memory:") as con:
        rel = records.jsonl_text(con, LandedFile(jsonl, "f.jsonl"), JsonLinesFormat({"a": "$.a"}))
        rows = con.execute(f'SELECT _source_line, _malformed, "@a" FROM {rel.name} ORDER BY 1')
        # a raw CR is not allowed inside a JSON string: one invalid line, not two
        assert rows.fetchall() == [
            (1, "not valid JSON (a truncated or cut-off line?)", None),
            (2, None, "2"),
        ]


def test_files_without_a_carriage_return_stream_to_the_same_lines(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n  \n{"a": 2}\n{"a": 3}')
    file = LandedFile(path, "f.jsonl")
    with duck.connect(":memory:") as con:
        records.load_lines(con, file, "utf-8", has_cr=False)
        streamed = con.execute("SELECT ln, line FROM _lines ORDER BY ln").fetchall()
        records.load_lines(con, file, "utf-8", has_cr=True)  # small: split whole
        split = con.execute("SELECT ln, line FROM _lines ORDER BY ln").fetchall()
    assert (
        streamed == split == [(1, '{"a": 1}'), (2, ""), (3, "  "), (4, '{"a": 2}'), (5, '{"a": 3}')]
    )
