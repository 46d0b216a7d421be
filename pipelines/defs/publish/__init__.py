"""Write-audit-publish and everything downstream of the gate (`assets.assets`).

Modules by what they serve:

- the published files (the gate): `publish.py` (segments.duckdb, incremental), `audited.py`
  (audited.duckdb, and the read-only session every downstream reader uses),
  `contract_doc.py` (the published-schema contract), `schema.py` (regenerates that doc);
- Parquet: `parquet.py`, `versioned_dir.py`;
- segment exports: `exports.py`, `membership.py`, `families.py`, `segment_actions.csv`;
- the HTML report: `report.py`, `report_data.py`, `report_sections.py`, `charts.py`,
  `quality.py`;
- Dagster and the CLI: `assets.py` (four assets), `commands.py` (`segments export`,
  `segments report`).

Everything but `publish.py` and `audited.py` reads the published files, never build.duckdb.
"""
