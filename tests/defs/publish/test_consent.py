"""Export consent per source: the CRM's answer wins, a source rule only fills its silence."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.publish.audited import open_audited
from pipelines.defs.publish.consent import SourceConsent, coverage
from pipelines.defs.publish.exports import refresh_exports
from pipelines.settings import SettingsError, parse_export_consent


def _crm_consent(published_db: Path) -> dict[str, bool | None]:
    with duckdb.connect(str(published_db.with_name("audited.duckdb")), read_only=True) as con:
        return dict(
            con.execute(
                "select customer_key, has_marketing_consent from marts.dim_customers"
            ).fetchall()
        )


def _exported(folder: Path) -> list[dict[str, str]]:
    rows = []
    for path in sorted(folder.rglob("*.csv")):
        if path.parent != folder:  # segment files, not index.csv / consent.csv
            with path.open(newline="", encoding="utf-8") as fh:
                rows += list(csv.DictReader(fh))
    return rows


def test_granted_for_every_source_fills_only_the_crms_silence(published_full: Path, tmp_path):
    crm = _crm_consent(published_full)
    assert {True, False, None} <= set(crm.values()), "fixture needs yes, no and unknown"

    exports = refresh_exports(published_full, tmp_path / "exports", "USD", (("*", "granted"),))

    rows = _exported(exports.folder)
    assert rows
    seen = {}
    for r in rows:
        consent = crm[r["customer_key"]]
        assert consent is not False, f"{r['customer_key']} refused consent in the CRM"
        basis = "crm" if consent else r["consent_basis"]
        assert r["consent_basis"] == basis and basis.startswith(("crm", "rule:"))
        seen[r["customer_key"]] = consent
    assert None in seen.values() and True in seen.values()


def test_default_rule_exports_only_crm_consent(published_full: Path, tmp_path):
    crm = _crm_consent(published_full)
    exports = refresh_exports(published_full, tmp_path / "exports", "USD")
    rows = _exported(exports.folder)
    assert rows and all(crm[r["customer_key"]] is True for r in rows)
    assert {r["consent_basis"] for r in rows} == {"crm"}


def test_source_ids_column_lists_the_customers_ids(published_full: Path, tmp_path):
    exports = refresh_exports(published_full, tmp_path / "exports", "USD")
    rows = _exported(exports.folder)
    with duckdb.connect(str(published_full.with_name("audited.duckdb")), read_only=True) as con:
        expected = dict(
            con.execute(
                "select customer_key, list(source || ':' || source_customer_id) "
                "from marts.customer_source_ids group by 1"
            ).fetchall()
        )
    assert all(r["source_ids"] == ";".join(sorted(expected[r["customer_key"]])) for r in rows)


def test_coverage_counts_each_sources_customers_and_those_without_consent_data(
    published_full: Path,
):
    crm = _crm_consent(published_full)
    with duckdb.connect(str(published_full.with_name("audited.duckdb")), read_only=True) as con:
        pairs = con.execute("select source, customer_key from marts.customer_source_ids").fetchall()
    customers: dict[str, set[str]] = {}
    for source, key in pairs:  # a customer with two ids at one source counts once
        customers.setdefault(source, set()).add(key)
    assert any(len(keys) < sum(1 for s, _ in pairs if s == src) for src, keys in customers.items())
    expected = [
        SourceConsent(src, len(keys), sum(1 for k in keys if crm[k] is None), "granted")
        for src, keys in sorted(customers.items())
    ]
    assert any(0 < e.without_consent_data < e.customers for e in expected)

    with open_audited(published_full) as con:
        assert coverage(con, [("*", "granted")], True) == expected


def test_consent_setting_is_parsed_and_a_bad_rule_names_the_variable():
    assert parse_export_consent(" generic/pos = granted, shopify=CRM ,") == (
        ("generic/pos", "granted"),
        ("shopify", "crm"),
    )
    with pytest.raises(SettingsError, match="SEGMENTS_EXPORT_CONSENT: 'stripe=yes'"):
        parse_export_consent("stripe=yes")


def test_a_source_with_some_consent_data_gets_no_note():
    assert SourceConsent("crm", 10, 3, "crm").note() == ""
    assert (
        "set SEGMENTS_EXPORT_CONSENT=stripe=granted" in SourceConsent("stripe", 4, 4, "crm").note()
    )
