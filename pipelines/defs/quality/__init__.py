"""Data-quality gates: GX suites, reconciliation and freshness as Dagster asset checks
(`checks.checks`)."""
