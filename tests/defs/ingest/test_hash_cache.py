"""pipelines/defs/ingest/hash_cache.py: a landed file's hash is reused while its stat is
unchanged, and never when the file was written again (even with its size and mtime put back)
or when it was hashed right after a write (git's racily clean files)."""

from __future__ import annotations

import os
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.ingest import hash_cache
from pipelines.defs.ingest.files import sha256_of
from pipelines.defs.ingest.hash_cache import HashCache

from .conftest import Warehouse

SHOPIFY = "orders_export_2024-03.csv"


def rewrite_keeping_size_and_mtime(path: Path, old: bytes, new: bytes) -> None:
    """Change bytes in place (same length) and set mtime back, as a careless sync tool might."""
    assert len(old) == len(new)
    st = path.stat()
    time.sleep(0.05)  # a later timestamp tick for ctime
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)


def hash_twice(db: Path, path: Path) -> tuple[HashCache, tuple[str, int]]:
    """Hash `path` with a fresh cache, save it; return a second cache's view of the file."""
    with duckdb.connect(str(db)) as con:
        first = HashCache(con, "shopify")
        first.sha256(path)
        first.save(con)
        second = HashCache(con, "shopify")
        return second, second.sha256(path)


@pytest.fixture
def no_racy_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    # Files in these tests are hashed right after they are written; without this every hash
    # would count as racily clean and never be reused.
    monkeypatch.setattr(hash_cache, "RACY_SECONDS", 0)


def test_an_unchanged_file_is_not_hashed_again(tmp_path: Path, no_racy_wait: None) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id,amount\n1,2.50\n")
    time.sleep(0.01)
    cache, (sha, size) = hash_twice(tmp_path / "build.duckdb", path)
    assert (cache.hashed, cache.reused) == (0, 1)
    assert (sha, size) == sha256_of(path)


def test_a_file_rewritten_with_its_size_and_mtime_put_back_is_hashed_again(
    tmp_path: Path, no_racy_wait: None
) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id,amount\n1,2.50\n")
    time.sleep(0.01)
    db = tmp_path / "build.duckdb"
    with duckdb.connect(str(db)) as con:
        first = HashCache(con, "shopify")
        before, _ = first.sha256(path)
        first.save(con)
    rewrite_keeping_size_and_mtime(path, b"2.50", b"9.50")
    with duckdb.connect(str(db)) as con:
        second = HashCache(con, "shopify")
        after, _ = second.sha256(path)
    assert (second.hashed, second.reused) == (1, 0)
    assert after != before and after == sha256_of(path)[0]


def test_a_hash_taken_right_after_a_write_is_not_reused(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id,amount\n1,2.50\n")  # changed just now: within RACY_SECONDS
    cache, _ = hash_twice(tmp_path / "build.duckdb", path)
    assert (cache.hashed, cache.reused) == (1, 0)


def test_a_loaded_file_rewritten_in_place_loads_again(wh: Warehouse, no_racy_wait: None) -> None:
    path = wh.land("shopify", SHOPIFY)
    time.sleep(0.01)
    wh.load("shopify")
    assert wh.one("SELECT count(*) FROM meta.file_hashes WHERE source = 'shopify'") == 1
    # the cached hash is used while nothing changed ...
    assert [f.status for f in wh.load("shopify").files] == ["unchanged"]
    # ... and a same-size edit with the mtime put back still counts as a changed file
    rewrite_keeping_size_and_mtime(path, b"617.25", b"617.26")
    result = wh.load("shopify")
    assert [f.status for f in result.files] == ["loaded"]
    assert wh.one(
        "SELECT lineitem_price FROM raw.shopify_orders WHERE order_name = '#1001' "
        "AND line_number_in_order = 1"
    ) == Decimal("617.26")
