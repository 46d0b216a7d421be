"""The segment report: one self-contained HTML file, `$SEGMENTS_WAREHOUSE_DIR/report.html`.

Written after every publish and by `segments report`. It opens from disk with no network:
CSS and SVG charts are inline, and the only script is a short inline render check that
marks `<body data-charts-drawn=...>` once the browser has laid the charts out.

Sections, top to bottom: the week in numbers (seven days vs the seven before), segment sizes
and revenue share, the R × FM grid as a heat map, migration between the last two snapshots,
segment sizes over time, the profile table, the other segment families, predicted CLV
and churn risk (report_clv.py), and the data-quality summary of the run. A section whose
table a build does not have yet says so.

It reads only published, audited data (segments.duckdb and audited.duckdb, see audited.py),
never the build database: a run whose checks failed does not change the report's numbers.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from html import escape
from pathlib import Path

import duckdb

from pipelines.defs.publish import report_clv
from pipelines.defs.publish import report_data as rd
from pipelines.defs.publish import report_sections as sec
from pipelines.defs.publish.audited import open_audited
from pipelines.defs.publish.quality import CheckSummary, QualitySummary, summarise
from pipelines.lib.duck import DatabaseBusyError, sql_str

CSS = """
body{margin:0;background:#f4f5f7;color:#222;
  font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif}
main{max-width:1000px;margin:0 auto;padding:24px}
header h1{margin:0 0 4px;font-size:24px} header p{margin:0;color:#666}
section{background:#fff;border-radius:8px;padding:18px 22px;margin:18px 0;
  box-shadow:0 1px 2px #0001}
h2{font-size:18px;margin:0 0 12px} h3{font-size:15px;margin:16px 0 8px}
.muted{color:#777} .na{color:#8a6d00;background:#fff8dc;padding:8px 12px;border-radius:6px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
.kpi{border:1px solid #e6e6e6;border-radius:8px;padding:10px 12px}
.kpi b{display:block;font-size:20px} .kpi span{font-size:12px;color:#666}
.up{color:#1a7f37} .down{color:#c62828} .flat{color:#666}
table{border-collapse:collapse;width:100%;font-size:13px;margin-top:8px}
th,td{padding:5px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#fafafa;font-weight:600} td.n{text-align:right;font-variant-numeric:tabular-nums}
.legend{display:flex;flex-wrap:wrap;gap:6px 14px;margin:8px 0;font-size:12px}
.key i{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;
  vertical-align:-1px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:8px 24px}
.ok{color:#1a7f37} .bad{color:#c62828}
"""

# Marks the body once the browser has laid out every chart: the headless-browser test reads
# it, and a person can see it in the footer ("8 of 8 charts drawn").
RENDER_CHECK = """
(function () {
  var charts = document.querySelectorAll('svg.chart'), drawn = 0;
  charts.forEach(function (svg) {
    var marks = 0, box = svg.getBoundingClientRect();
    svg.querySelectorAll('.mark').forEach(function (m) {
      var b = m.getBBox(); if (b.width > 0 || b.height > 0) { marks++; }
    });
    svg.setAttribute('data-marks', marks);
    if (marks > 0 && box.width > 0 && box.height > 0) { drawn++; }
  });
  // notes a reader must see: rule warnings (lines shown) and "unknown" family notes
  function shown(el) { var b = el.getBoundingClientRect(); return b.width > 0 && b.height > 0; }
  var rules = document.getElementById('rule-warnings');
  document.body.setAttribute('data-rule-warnings',
    rules && shown(rules) ? rules.querySelectorAll('li').length : 0);
  var unknown = 0;
  document.querySelectorAll('.unknown-note').forEach(function (n) { if (shown(n)) { unknown++; } });
  document.body.setAttribute('data-unknown-notes', unknown);
  document.body.setAttribute('data-charts', charts.length);
  document.body.setAttribute('data-charts-drawn', drawn);
  var el = document.getElementById('render-check');
  if (el) { el.textContent = drawn + ' of ' + charts.length + ' charts drawn'; }
})();
"""


@dataclass(frozen=True)
class ReportResult:
    path: Path
    bytes: int
    as_of: date
    charts: int
    missing: dict[str, str]  # section → why it says "not available yet"


def render(
    data: rd.SectionData,
    quality: QualitySummary,
    *,
    currency: str,
    published_db: Path,
    clv: report_clv.ClvData | None = None,
) -> str:
    """The whole report as one HTML string."""
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sections = [
        sec.section("The week in numbers", sec.weekly(data, currency), "weekly"),
        sec.section("Segment sizes and revenue share", sec.segments(data, currency), "segments"),
        sec.section("R × FM grid", sec.grid(data), "grid"),
        sec.section("Migration between the last two snapshots", sec.migration(data), "migration"),
        sec.section("Segment sizes over time", sec.history(data), "history"),
        sec.section("Segment profiles", sec.profiles(data), "profiles"),
        sec.section("Other segment families", sec.families(data), "families"),
        sec.section(
            "Predicted value and churn risk", report_clv.section_body(clv, currency), "clv"
        ),
        sec.section("Data quality of the run", sec.quality(quality), "quality"),
    ]
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>Customer segments as of {data.as_of}</title><style>{CSS}</style></head>"
        "<body><main>"
        f"<header><h1>Customer segments as of {data.as_of}</h1><p>Generated {generated} from "
        f"<code>{escape(os.fspath(published_db))}</code>. Money in {escape(currency)}.</p></header>"
        + "".join(sections)
        + '<p class="muted">Rebuild with <code>segments report</code>. '
        '<span id="render-check"></span></p>'
        f"</main><script>{RENDER_CHECK}</script></body></html>"
    )


def _attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str) -> None:
    try:
        con.execute(f"attach {sql_str(os.fspath(path))} as {alias} (read_only)")
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        raise DatabaseBusyError(
            f"{path} is locked by a running pipeline step; run `segments report` again when "
            f"the run has finished (every publish rewrites the report anyway). DuckDB said: {exc}"
        ) from exc


def write_report(
    published_db: Path,
    out_path: Path,
    *,
    currency: str,
    checks: CheckSummary | None = None,
    checks_note: str = "",
) -> ReportResult:
    """Render the report from the published files (segments.duckdb and, beside it,
    audited.duckdb when it exists; never the build database) and replace `out_path`
    atomically."""
    if not published_db.exists():
        raise FileNotFoundError(f"{published_db} does not exist: run `segments run` first.")
    with open_audited(published_db) as con:
        data = rd.collect(con)
        tables = rd.table_columns(con)
        clv = report_clv.collect(con, tables)
        quality = summarise(con, tables, checks, checks_note)
    page = render(data, quality, currency=currency, published_db=published_db, clv=clv)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    missing = dict(data.missing)
    if clv is None:
        missing["clv"] = "customer_predictions is not published yet"
    if checks is None:
        missing["checks"] = checks_note or "no run history"
    return ReportResult(
        out_path, out_path.stat().st_size, data.as_of, page.count('class="chart"'), missing
    )


def segment_sizes_markdown(published_db: Path, currency: str) -> str:
    """Customers and revenue per RFM segment of the published file, as a Markdown table
    (the Dagster UI renders it on the publish asset)."""
    con = duckdb.connect(":memory:")
    try:
        _attach(con, published_db, "pub")
        sizes = rd.segment_sizes(con, rd.table_columns(con))
    finally:
        con.close()
    total_c = sum(s.customers for s in sizes) or 1
    total_r = sum(max(s.revenue, 0) for s in sizes) or 1
    lines = [
        f"| segment | customers | share | net revenue ({currency}) | revenue share |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {s.label} | {s.customers:,} | {s.customers / total_c:.1%} | {s.revenue:,.2f} | "
        f"{max(s.revenue, 0) / total_r:.1%} |"
        for s in sizes
    ]
    return "\n".join(lines)
