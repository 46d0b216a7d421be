"""The report's section on predicted CLV and churn risk (BG/NBD + Gamma-Gamma).

Three parts, from the published tables only (customer_predictions, clv_model_fits,
clv_holdout_fit, customer_segments; customer_contacts when PII publishing is on):

- how well the model forecasts: the calibration/holdout comparison of Fader, Hardie & Lee
  (2005, fig. 3): mean repeat purchase days in the holdout, actual vs expected, by repeat
  purchases in the calibration period (0 .. 7+), and the fitted parameters;
- probability alive per RFM segment (customers, mean, median, share below 0.3);
- the top customers by predicted 365-day CLV: keys only, plus email when
  SEGMENTS_PUBLISH_PII=true published customer_contacts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape

import duckdb

from pipelines.defs.publish import charts
from pipelines.defs.publish.report_sections import html_table

PREDICTIONS = "pub.main.customer_predictions"
FITS = "pub.main.clv_model_fits"
HOLDOUT = "pub.main.clv_holdout_fit"
SEGMENTS = "pub.main.customer_segments"
CONTACTS = "pub.main.customer_contacts"
TOP_CUSTOMERS = 20
SLIPPING = 0.3  # the "churn risk" line the section counts below


@dataclass(frozen=True)
class ClvData:
    predictions_as_of: date | None  # latest date with predictions
    fits_as_of: date | None  # latest fit (may have failed its gates)
    fits: tuple[tuple[str, str, float | None, bool, float | None, int], ...]
    holdout: tuple[tuple[int, int, float, float], ...]  # bucket, customers, actual, expected
    calibration_end: date | None
    alive_by_segment: tuple[tuple[str, int, float, float, float], ...]
    top: tuple[tuple, ...]
    top_columns: tuple[str, ...]


def collect(con: duckdb.DuckDBPyConnection, tables: dict[str, list[str]]) -> ClvData | None:
    """The section's data, or None when the published file has no CLV tables yet."""
    if PREDICTIONS not in tables or FITS not in tables:
        return None
    predictions_as_of = con.execute(f"select max(as_of_date) from {PREDICTIONS}").fetchone()[0]
    fits_as_of = con.execute(f"select max(as_of_date) from {FITS}").fetchone()[0]
    fits = tuple(
        con.execute(
            f"""select model, parameter, value, converged, log_likelihood, customers_fitted
            from {FITS} where as_of_date = ?
            order by model, case parameter when 'r' then 0 when 'alpha' then 1 when 'a' then 2
                when 'b' then 3 when 'p' then 4 when 'q' then 5 else 6 end""",
            [fits_as_of],
        ).fetchall()
    )
    holdout, calibration_end = (), None
    if HOLDOUT in tables:
        rows = con.execute(
            f"""select calibration_end_date, calibration_repeat_purchases, customers,
                   actual_holdout_purchases, expected_holdout_purchases
            from {HOLDOUT} where as_of_date = (select max(as_of_date) from {HOLDOUT})
            order by calibration_repeat_purchases"""
        ).fetchall()
        holdout = tuple(r[1:] for r in rows)
        calibration_end = rows[0][0] if rows else None
    alive, top, top_columns = (), (), ()
    if predictions_as_of is not None:
        alive = tuple(
            con.execute(
                f"""select coalesce(s.rfm_segment, '(no RFM segment)'), count(*),
                       avg(p.probability_alive), median(p.probability_alive),
                       avg((p.probability_alive < {SLIPPING})::int)
                from {PREDICTIONS} p left join {SEGMENTS} s using (customer_key)
                where p.as_of_date = ?
                group by 1 order by avg(p.probability_alive) desc""",
                [predictions_as_of],
            ).fetchall()
        )
        contact = CONTACTS in tables and "email" in tables[CONTACTS]
        email = ", c.email" if contact else ""
        join = f"left join {CONTACTS} c using (customer_key)" if contact else ""
        top_columns = (
            "customer_key",
            *(("email",) if contact else ()),
            "RFM segment",
            "predicted CLV 365 days",
            "probability alive",
            "expected purchases 365 days",
            "expected order value",
        )
        top = tuple(
            con.execute(
                f"""select p.customer_key{email}, coalesce(s.rfm_segment, '-'),
                       p.predicted_clv_365_days, p.probability_alive,
                       p.expected_purchases_365_days, p.expected_average_order_value
                from {PREDICTIONS} p left join {SEGMENTS} s using (customer_key) {join}
                where p.as_of_date = ?
                order by p.predicted_clv_365_days desc, p.customer_key limit {TOP_CUSTOMERS}""",
                [predictions_as_of],
            ).fetchall()
        )
    return ClvData(
        predictions_as_of,
        fits_as_of,
        fits,
        holdout,
        calibration_end,
        alive,
        top,
        top_columns,
    )


def holdout_chart(rows: tuple[tuple[int, int, float, float], ...], width: int = 720) -> str:
    """Pairs of vertical bars per calibration bucket: actual (dark) and expected (light)."""
    left, bottom, top_pad, height = 48, 34, 12, 260
    plot_w, plot_h = width - left - 12, height - top_pad - bottom
    top = charts.nice_ceiling(max((max(r[2], r[3]) for r in rows), default=0)) or 1
    slot = plot_w / max(len(rows), 1)
    bar = slot * 0.36
    body = []
    for k in range(5):
        v = top * k / 4
        y = top_pad + plot_h * (1 - v / top)
        body.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e4e4"/>'
        )
        body.append(charts._text(left - 6, y + 4, f"{v:.1f}", size=10, anchor="end", fill="#666"))
    for i, (bucket, customers, actual, expected) in enumerate(rows):
        x0 = left + slot * i + slot * 0.12
        label = f"{bucket}+" if bucket == 7 else str(bucket)
        for j, (value, fill, what) in enumerate(
            ((actual, "#4e79a7", "actual"), (expected, "#a0cbe8", "expected"))
        ):
            h = plot_h * value / top
            body.append(
                f'<rect class="mark" x="{x0 + j * bar:.1f}" y="{top_pad + plot_h - h:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}" fill="{fill}"><title>{label} in '
                f"calibration ({customers:,} customers): {what} {value:.3f}</title></rect>"
            )
        body.append(
            charts._text(x0 + bar, height - 14, label, size=11, anchor="middle", fill="#444")
        )
    return charts._svg("clv-holdout", width, height, body, "Holdout: actual vs expected")


def _fit_text(data: ClvData) -> str:
    by_model: dict[str, list[str]] = {}
    info: dict[str, tuple[bool, float | None, int]] = {}
    for model, parameter, value, converged, loglik, customers in data.fits:
        shown = "—" if value is None else f"{value:.4g}"
        by_model.setdefault(model, []).append(f"{escape(parameter)} = {shown}")
        info[model] = (converged, loglik, customers)
    parts = []
    for model, params in by_model.items():
        converged, loglik, customers = info[model]
        status = (
            '<span class="ok">converged</span>' if converged else '<span class="bad">failed</span>'
        )
        ll = "" if loglik is None else f", log-likelihood {loglik:,.1f}"
        parts.append(
            f"<li><b>{escape(model)}</b>: {', '.join(params)} ({customers:,} customers{ll}; "
            f"{status})</li>"
        )
    return f"<ul>{''.join(parts)}</ul>"


def section_body(data: ClvData | None, currency: str) -> str:
    if data is None:
        return (
            '<p class="na">Not available yet: the published file has no customer_predictions '
            "(the CLV model step has not run).</p>"
        )
    out = [
        f"<p class=muted>BG/NBD (repeat purchase days and dropout) and Gamma-Gamma (value of a "
        f"purchase day), fitted for {data.fits_as_of}; time in weeks. Predictions in "
        f"customer_predictions; fits over time in clv_model_fits.</p>",
        _fit_text(data),
    ]
    if data.predictions_as_of is None or data.predictions_as_of != data.fits_as_of:
        shown = data.predictions_as_of or "none"
        out.append(
            f'<p class="na">The fit for {data.fits_as_of} failed its gates, so its predictions '
            f"were withheld; the predictions below are as of {shown}.</p>"
        )
    if data.holdout:
        total = sum(r[1] for r in data.holdout)
        actual = sum(r[1] * r[2] for r in data.holdout)
        expected = sum(r[1] * r[3] for r in data.holdout)
        out.append(
            f"<h3>Forecast check: calibration up to {data.calibration_end}, holdout to "
            f"{data.fits_as_of}</h3><p class=muted>Mean repeat purchase days per customer in the "
            f"holdout, by repeat purchase days in the calibration period; {total:,} customers, "
            f"{actual:,.0f} actual vs {expected:,.0f} expected in total "
            f"({(expected - actual) / actual:+.1%}).</p>"
            if actual
            else "<h3>Forecast check</h3>"
        )
        out.append(holdout_chart(data.holdout))
        out.append(
            '<div class="legend"><span class="key"><i style="background:#4e79a7"></i>actual'
            '</span><span class="key"><i style="background:#a0cbe8"></i>expected</span></div>'
        )
        out.append(
            html_table(
                ["calibration repeat purchases", "customers", "actual", "expected"],
                [
                    [f"{b}+" if b == 7 else str(b), f"{n:,}", f"{a:.3f}", f"{e:.3f}"]
                    for b, n, a, e in data.holdout
                ],
                {1, 2, 3},
            )
        )
    if data.alive_by_segment:
        out.append(f"<h3>Probability alive per RFM segment ({data.predictions_as_of})</h3>")
        out.append(
            html_table(
                ["RFM segment", "customers", "mean", "median", f"share below {SLIPPING}"],
                [
                    [escape(s), f"{n:,}", f"{mean:.2f}", f"{med:.2f}", f"{low:.1%}"]
                    for s, n, mean, med, low in data.alive_by_segment
                ],
                {1, 2, 3, 4},
            )
        )
        out.append(
            "<p class=muted>BG/NBD lets a customer drop out only after a repeat purchase, so a "
            "customer with a single purchase day has probability alive 1; read their prospects "
            "from expected purchases and predicted CLV instead.</p>"
        )
    if data.top:
        out.append(f"<h3>Top {len(data.top)} customers by predicted CLV</h3>")
        money = {"predicted CLV 365 days", "expected order value"}
        rows = []
        for row in data.top:
            cells = []
            for column, value in zip(data.top_columns, row, strict=True):
                if column in money:
                    cells.append(f"{currency} {value:,.2f}")
                elif isinstance(value, float):
                    cells.append(f"{value:.2f}")
                else:
                    cells.append(escape(str(value)) if value is not None else "")
            rows.append(cells)
        first_number = data.top_columns.index("predicted CLV 365 days")
        out.append(
            html_table(data.top_columns, rows, set(range(first_number, len(data.top_columns))))
        )
    return "".join(out)
