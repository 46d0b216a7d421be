"""Identifier normalisation (dbt_project/macros/normalize.sql), compiled by the real dbt
project and run on DuckDB: one email or phone, however it was typed, is one identifier."""

from __future__ import annotations

import json
import os
import subprocess
import unicodedata
from pathlib import Path

import duckdb
import pytest
from conftest import DBT, PROJECT_DIR

ANNA = "anna@x.com"
# Regression (issue 11): the first three were three customers with lower(trim()).
EMAIL_SPELLINGS = [
    "Anna@x.com\t",
    "an\u200bna@x.com",
    "anna@x.com",
    " ANNA@X.COM ",
    "\ufeffanna@x.com\u00a0",
    "an\u00adna@x.com",  # soft hyphen
    "anna@x.\u2060com",  # word joiner
    "an\u200dna@x\u200c.com\r\n",
    "ＡＮＮＡ＠ｘ．ｃｏｍ",  # full-width (Japanese input)
    "\U0001d41a\U0001d427\U0001d427\U0001d41a@x.com",  # mathematical bold
    "anna @ x.com",
    "Anna@x.com\u3000",  # ideographic space
]
PHONE_SPELLINGS = [
    "+48 601 234 567",
    "\u200b+48601234567",
    "＋４８ ６０１ ２３４ ５６７",
    "+48\u2009601\u00a0234\u202f567",
    "0048 601-234-567",
    "+48 ⑥⓪① 234 567",
]


def compile_inline(work: Path, sql: str) -> str:
    """`sql` as the dbt project compiles it for DuckDB (macros expanded)."""
    result = subprocess.run(
        [str(DBT), "--no-use-colors", "--quiet", "compile", "--inline", sql, "--output", "json",
         "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
         "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
        env={**os.environ, "SEGMENTS_BUILD_DB": str(work / "build.duckdb"),
             "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"dbt compile failed:\n{result.stdout[-3000:]}{result.stderr}"
    return json.loads(result.stdout[result.stdout.index("{") :])["compiled"]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> str:
    """`select v, <normalize_email(v)>, <normalize_phone(v)>, <fold_unicode(v)> from cases`."""
    return compile_inline(
        tmp_path_factory.mktemp("normalize"),
        "select v, {{ normalize_email('v') }} as email, {{ normalize_phone('v') }} as phone, "
        "{{ fold_unicode('v') }} as folded from cases",
    )


@pytest.fixture(scope="module")
def labels(tmp_path_factory: pytest.TempPathFactory) -> str:
    """`select v, <label_text(v)>, <holds_personal_data(v)> from cases`."""
    return compile_inline(
        tmp_path_factory.mktemp("labels"),
        "select v, {{ label_text('v') }} as label, {{ holds_personal_data('v') }} as withheld "
        "from cases",
    )


def normalise(compiled: str, values: list[str]) -> dict[str, tuple]:
    with duckdb.connect() as con:
        con.execute("create table cases (v varchar)")
        con.executemany("insert into cases values (?)", [(v,) for v in values])
        return {v: rest for v, *rest in [tuple(r) for r in con.execute(compiled).fetchall()]}


def test_every_spelling_of_an_email_is_one_identifier(compiled: str):
    emails = {v: email for v, (email, _, _) in normalise(compiled, EMAIL_SPELLINGS).items()}
    assert {v: e for v, e in emails.items() if e != ANNA} == {}


def test_every_spelling_of_a_phone_is_one_identifier(compiled: str):
    phones = {v: phone for v, (_, phone, _) in normalise(compiled, PHONE_SPELLINGS).items()}
    assert {v: p for v, p in phones.items() if p != "+48601234567"} == {}


def test_blank_and_invisible_only_values_are_null(compiled: str):
    rows = normalise(compiled, ["", " \t", "\u200b\ufeff", "\u00a0"])
    assert {v: email for v, (email, _, _) in rows.items() if email is not None} == {}


def test_folded_characters_agree_with_python_nfkc(compiled: str):
    # Every character NFKC maps to one ASCII letter or digit, in the blocks the macro folds,
    # plus accents that NFC composes: the SQL must agree with Python's unicodedata.
    blocks = [
        *range(0xFF01, 0xFF5F),
        *range(0x1D400, 0x1D6A4),
        *range(0x1D7CE, 0x1D800),
        *range(0x2460, 0x2469),
        *range(0x24B6, 0x24EB),
        0xB9, 0xB2, 0xB3, 0x2070, *range(0x2074, 0x207A), *range(0x2080, 0x208A),
    ]  # fmt: skip
    chars = [chr(c) for c in blocks if unicodedata.category(chr(c)) != "Cn"]
    values = [*chars, "mu\u0308ller@x.de", "m\u00fcller@x.de"]
    folded = {v: f for v, (_, _, f) in normalise(compiled, values).items()}
    expected = {v: unicodedata.normalize("NFKC", v).lower() for v in values}
    assert len(chars) > 850
    assert {v: (folded[v], expected[v]) for v in values if folded[v].lower() != expected[v]} == {}


def test_free_text_labels_holding_an_email_or_phone_are_withheld(labels: str):
    # Regression (issue 11): a Shopify tag holding the customer's email became a label.
    personal = [
        "anna.k@mail.com",
        "Anna.K@Mail.com, apparel",
        "contact: anna@x.com",
        "ａｎｎａ＠ｘ．ｃｏｍ",
        "an\u200bna@x.com",
        "+48 601 234 567",
        "0048601234567",
        "(030) 123-4567",
        "601.234.567",
        "＋４８６０１２３４５６７",
    ]
    kept = {"Apparel ": "apparel", "home & garden": "home & garden", "size 42": "size 42",
            "@home": "@home", "sale 2024": "sale 2024", "": None}  # fmt: skip
    rows = normalise(labels, [*personal, *kept])
    assert {v: r for v, r in rows.items() if v in personal and tuple(r) != (None, True)} == {}
    assert {v: r[0] for v, r in rows.items() if v in kept} == kept
    assert not any(withheld for v, (_, withheld) in rows.items() if v in kept)
