"""Segment exports for campaign tools: consent respected, fields present, every family."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.publish.audited import publish_with_audited
from pipelines.defs.publish.exports import (
    EXPORT_COLUMNS,
    INDEX_NAME,
    export_segment,
    refresh_exports,
)
from pipelines.defs.publish.families import slug
from pipelines.defs.publish.membership import ExportError, SegmentRef, match_segment
from pipelines.defs.publish.versioned_dir import CURRENT
from tests.defs.publish.warehouse import AS_OF, AS_OF_DATES, DYNAMIC_SEGMENT


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _members(build: Path, sql: str, params: list) -> dict[str, bool]:
    """customer_key → current consent, for members selected independently of the exporter."""
    with duckdb.connect(str(build), read_only=True) as con:
        return dict(
            con.execute(
                f"select m.customer_key, coalesce(d.has_marketing_consent, false) from ({sql}) m "
                "left join marts.dim_customers d using (customer_key)",
                params,
            ).fetchall()
        )


def _export(published: Path, tmp_path: Path, segment: str, **kw) -> tuple:
    result = export_segment(
        published, segment, exports_dir=tmp_path / "exports", currency="USD", **kw
    )
    return result, _rows(result.path)


def test_rfm_export_has_only_consenting_members_with_every_field(
    full_build: Path, published_full: Path, tmp_path: Path
):
    result, rows = _export(published_full, tmp_path, "At Risk")
    members = _members(
        full_build,
        "select customer_key from marts.customer_segments where rfm_segment = ?",
        ["At Risk"],
    )
    consenting = {k for k, ok in members.items() if ok}
    assert 0 < len(consenting) < len(members)  # the fixture has both kinds
    assert {r["customer_key"] for r in rows} == consenting
    assert result.left_out_no_consent == len(members) - len(consenting)
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert all(r["has_marketing_consent"] == "true" for r in rows)
    # Personalisation fields are filled for customers in the CRM.
    assert all(r["email"] and r["first_name"] and r["phone"] for r in rows)
    assert all(r["last_purchase_date"] and float(r["average_order_value"]) > 0 for r in rows)
    assert {r["segment"] for r in rows} == {"At Risk"} and {r["currency"] for r in rows} == {"USD"}
    with duckdb.connect(str(full_build), read_only=True) as con:
        action = con.execute(
            "select suggested_action from seeds.rfm_segment_descriptions "
            "where rfm_segment = 'At Risk'"
        ).fetchone()[0]
    assert {r["suggested_action"] for r in rows} == {action}


def test_include_no_consent_exports_every_member(
    full_build: Path, published_full: Path, tmp_path: Path
):
    result, rows = _export(
        published_full, tmp_path, "at_risk", include_no_consent=True, output=tmp_path / "all.csv"
    )
    members = _members(
        full_build,
        "select customer_key from marts.customer_segments where rfm_segment = ?",
        ["At Risk"],
    )
    assert result.path == tmp_path / "all.csv"
    assert {r["customer_key"] for r in rows} == set(members)
    assert result.left_out_no_consent == 0
    assert {r["has_marketing_consent"] for r in rows} == {"true", "false"}


def test_dynamic_segment_export_uses_its_members(
    full_build: Path, published_full: Path, tmp_path: Path
):
    result, rows = _export(published_full, tmp_path, DYNAMIC_SEGMENT, family="dynamic")
    members = _members(
        full_build,
        "select customer_key from marts.dynamic_segment_members "
        "where segment_name = ? and as_of_date = ?",
        [DYNAMIC_SEGMENT, AS_OF],
    )
    assert result.segment.family == "dynamic"
    assert {r["customer_key"] for r in rows} == {k for k, ok in members.items() if ok} != set()
    assert {r["suggested_action"] for r in rows} != {""}


def test_other_families_and_flags_export_too(
    full_build: Path, published_full: Path, tmp_path: Path
):
    result, rows = _export(published_full, tmp_path, "VIP")  # label is 'vip'; case does not matter
    assert (result.segment.family, result.segment.label) == ("value_tier", "vip")
    assert rows and all(r["segment"] == "vip" for r in rows)
    result, rows = _export(published_full, tmp_path, "browser_not_buyer", include_no_consent=True)
    members = _members(
        full_build,
        "select customer_key from marts.customer_segments where is_browser_not_buyer",
        [],
    )
    assert result.segment.family == "browser_not_buyer"
    assert {r["customer_key"] for r in rows} == set(members)


def test_past_as_of_date_reads_the_history(full_build: Path, published_full: Path, tmp_path: Path):
    past = AS_OF_DATES[3]
    result, rows = _export(
        published_full, tmp_path, "Champions", as_of=past, include_no_consent=True
    )
    members = _members(
        full_build,
        "select customer_key from marts.segment_snapshots "
        "where rfm_segment = 'Champions' and as_of_date = ?",
        [past],
    )
    assert result.path.name == f"champions_{past}.csv"
    assert {r["customer_key"] for r in rows} == set(members)
    assert {r["as_of_date"] for r in rows} == {past.isoformat()}


def test_unknown_segment_lists_what_exists(full_build: Path, published_full: Path, tmp_path: Path):
    with pytest.raises(ExportError, match=r"no segment 'Whales'(.|\n)*rfm +Champions"):
        _export(published_full, tmp_path, "Whales")
    with pytest.raises(ExportError, match="unknown --family 'rmf'"):
        _export(published_full, tmp_path, "Champions", family="rmf")
    with pytest.raises(ExportError, match="has no data as of 2020-01-01"):
        _export(published_full, tmp_path, "Champions", family="value_tier", as_of=date(2020, 1, 1))


def test_a_name_in_two_families_asks_which():
    segments = [SegmentRef("lifecycle", "new"), SegmentRef("dynamic", "New")]
    assert match_segment("new", segments) == [SegmentRef("lifecycle", "new")]  # exact spelling wins
    assert len(match_segment("NEW", segments)) == 2
    assert match_segment("can't lose them", [SegmentRef("rfm", "Can't Lose Them")])
    assert slug("Can't Lose Them") == "cant_lose_them" and slug(" At  Risk ") == "at_risk"


def test_refresh_writes_one_file_per_segment_with_an_index(
    full_build: Path, published_full: Path, tmp_path: Path
):
    exports = tmp_path / "exports"
    first = refresh_exports(published_full, exports, "USD")
    index = _rows(exports / CURRENT / INDEX_NAME)
    assert {(r["segment_family"], r["segment"]) for r in index} >= {
        ("rfm", "Champions"),
        ("value_tier", "vip"),
        ("dynamic", DYNAMIC_SEGMENT),
        ("browser_not_buyer", "browser_not_buyer"),
    }
    for row in index:
        written = _rows(exports / CURRENT / row["file"])
        assert len(written) == int(row["rows"]), row["file"]
        assert all(r["has_marketing_consent"] == "true" for r in written)
    assert (exports / CURRENT / "rfm" / "cant_lose_them.csv").exists()
    # A second refresh swaps the whole set; the first stays readable for a reader mid-way.
    second = refresh_exports(published_full, exports, "USD")
    assert second.folder != first.folder and first.folder.exists()
    assert (exports / CURRENT).resolve() == second.folder


def test_cli_export_writes_the_file_and_says_who_was_left_out(warehouse: Path, capsys):
    from pipelines.cli import main

    assert main(["export", "--segment", "champions", "--family", "rfm"]) == 2
    assert "nothing is published yet" in capsys.readouterr().err  # the build alone is not enough
    publish_with_audited(warehouse / "build.duckdb", warehouse / "segments.duckdb")
    assert main(["export", "--segment", "champions", "--family", "rfm"]) == 0
    out = capsys.readouterr().out
    written = warehouse / "exports" / "on_demand" / "rfm" / f"champions_{AS_OF}.csv"
    assert written.exists() and str(written) in out
    assert "without marketing consent were left out" in out
    assert main(["export", "--segment", "nobody"]) == 2
    assert "no segment 'nobody'" in capsys.readouterr().err


def test_exports_serve_the_published_data_not_the_build(warehouse: Path, capsys):
    """A run whose gate fails leaves the build database changed but publishes nothing:
    `segments export` must keep serving what was published (audited), not the build."""
    from pipelines.cli import main

    build = warehouse / "build.duckdb"
    publish_with_audited(build, warehouse / "segments.duckdb")
    args = ["export", "--segment", "champions", "--family", "rfm", "--include-no-consent"]
    assert main([*args, "--output", str(warehouse / "before.csv")]) == 0
    # The failed run: every Champion demoted, every email replaced, in the build only.
    with duckdb.connect(str(build)) as con:
        con.execute("update marts.customer_segments set rfm_segment = 'Lost'")
        con.execute("update marts.dim_customers set email = 'unaudited@example.com'")
    capsys.readouterr()

    assert main([*args, "--output", str(warehouse / "after.csv")]) == 0

    before, after = _rows(warehouse / "before.csv"), _rows(warehouse / "after.csv")
    assert before and after == before
    assert all(r["email"] != "unaudited@example.com" for r in after)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_export_files_are_private_to_the_owner(published_full: Path, tmp_path: Path):
    # Regression (issue 11): exports hold emails and phones and were created 0644.
    exports = tmp_path / "exports"
    exports.mkdir(mode=0o755)  # a folder from before the rule is tightened too
    exports.chmod(0o755)
    done = refresh_exports(published_full, exports, "USD")
    on_demand, _ = _export(published_full, tmp_path, "At Risk")
    elsewhere, _ = _export(published_full, tmp_path, "At Risk", output=tmp_path / "mine.csv")
    files = [p for p in exports.rglob("*") if p.is_file()] + [elsewhere.path]
    assert len(files) > len(done.files) and on_demand.path in files
    assert {str(p): _mode(p) for p in files if _mode(p) != 0o600} == {}
    folders = [exports, *(p for p in exports.rglob("*") if p.is_dir() and not p.is_symlink())]
    assert {str(p): oct(_mode(p)) for p in folders if _mode(p) & 0o077} == {}
