"""`segments export` and `segments report`: the command bodies (pipelines/cli.py delegates).

Both read the published, audited files (segments.duckdb + audited.duckdb), never the build
database: after a run whose checks failed they serve the last published data, and before the
first publish they say that nothing is published yet.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipelines import settings as _settings
from pipelines.lib.duck import DatabaseBusyError


def export_command(args: argparse.Namespace) -> int:
    """Write one segment's members as CSV; print where, how many, and who was left out."""
    from pipelines.defs.publish.exports import export_segment
    from pipelines.defs.publish.membership import ExportError

    cfg = _settings.load()
    try:
        result = export_segment(
            cfg.published_db,
            args.segment,
            family=args.family,
            as_of=args.as_of,
            include_no_consent=args.include_no_consent,
            output=Path(args.output).resolve() if args.output else None,
            exports_dir=cfg.exports_dir,
            currency=cfg.reporting_currency,
            consent_rules=cfg.export_consent,
        )
    except (ExportError, DatabaseBusyError) as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 2
    s = result.segment
    print(
        f'{result.rows:,} members of {s.family} segment "{s.label}" as of {result.as_of} '
        f"→ {result.path}"
    )
    if result.left_out_no_consent:
        print(
            f"  {result.left_out_no_consent:,} members without marketing consent were left out "
            "(--include-no-consent adds them)"
        )
    for note in result.consent_notes:
        print(f"  {note}")
    return 0


def report_command(args: argparse.Namespace) -> int:
    """Rebuild the HTML report from the published files and the last run's checks."""
    from pipelines.defs.publish.quality import checks_of_last_run
    from pipelines.defs.publish.report import write_report

    cfg = _settings.load()
    home = Path(os.environ.get("DAGSTER_HOME") or cfg.warehouse_dir / "dagster_home")
    checks, note = checks_of_last_run(home)
    try:
        result = write_report(
            cfg.published_db,
            Path(args.output).resolve() if args.output else cfg.report_path,
            currency=cfg.reporting_currency,
            checks=checks,
            checks_note=note,
        )
    except (FileNotFoundError, DatabaseBusyError, ValueError) as exc:
        print(f"report failed: {exc}", file=sys.stderr)
        return 2
    print(f"report as of {result.as_of} ({result.charts} charts): {result.path}")
    for section, why in result.missing.items():
        print(f"  not available yet: {section}: {why}")
    print(f"open it in a browser: file://{result.path}")
    return 0
