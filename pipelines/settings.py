"""Env-driven configuration: the one place that reads environment variables.

Every path the pipeline touches comes from here, so tests can point the whole product at a
temp dir by setting `SEGMENTS_LANDING_DIR` / `SEGMENTS_WAREHOUSE_DIR` before calling `load()`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"


class SettingsError(ValueError):
    """A setting has a value the pipeline cannot use; the message names the variable."""


def _env_date(name: str, default: str | None) -> date | None:
    raw = os.environ.get(name, default)
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise SettingsError(
            f"{name}={raw!r} is not a date; set it as YYYY-MM-DD (e.g. 2024-01-31) or unset it."
        ) from exc


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(
            f"{name}={raw!r} is not a whole number; set e.g. {name}={default}."
        ) from exc


def _env_positive(name: str, default: int) -> int:
    value = _env_int(name, default)
    if value < 1:
        raise SettingsError(f"{name}={value} must be 1 or more; set e.g. {name}={default}.")
    return value


def _env_share(name: str, default: float) -> float:
    """A share between 0 and 1, written `0.2` or `20%`."""
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise SettingsError(
            f"{name}={raw!r} is not a share between 0 and 1; set e.g. {name}={default} "
            f"(or {default:.0%}), or 1 to turn the stop off."
        )
    return value


def _load_dotenv() -> None:
    env_file = PROJECT_ROOT / ".env"
    if env_file.exists():
        from dotenv import load_dotenv

        load_dotenv(env_file, override=False)


CONSENT_RULES = ("crm", "granted")
DEFAULT_MAX_QUARANTINE_SHARE = 0.20


def parse_export_consent(raw: str) -> tuple[tuple[str, str], ...]:
    """`SEGMENTS_EXPORT_CONSENT`: `<source>=<rule>` pairs separated by commas, e.g.
    `generic/cdnow=granted,shopify=crm` (`*` = every source without a rule of its own)."""
    rules: dict[str, str] = {}
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        source, sep, rule = (x.strip() for x in part.partition("="))
        if not sep or not source or rule.lower() not in CONSENT_RULES:
            raise SettingsError(
                f"SEGMENTS_EXPORT_CONSENT: {part!r} is not <source>=<rule> with rule one of "
                f"{', '.join(CONSENT_RULES)}; e.g. SEGMENTS_EXPORT_CONSENT=generic/pos=granted"
            )
        rules[source] = rule.lower()
    return tuple(sorted(rules.items()))


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse_dir: Path
    reporting_currency: str
    start_date: date
    as_of_date: date | None
    freshness_max_age_hours: int
    include_pii: bool
    # The history a first refresh builds: month-ends of the last N months + the last N days.
    history_months: int = 24
    history_daily_days: int = 35
    # A reload may drop most of a changed file's rows (pipelines/defs/ingest/loader.py).
    allow_shrinking_reload: bool = False
    # Export consent rule per source (SEGMENTS_EXPORT_CONSENT): source → crm | granted.
    export_consent: tuple[tuple[str, str], ...] = ()
    # A file with more than this share of its rows quarantined stops the run before dbt
    # (SEGMENTS_MAX_QUARANTINE_SHARE; pipelines/defs/ingest/share.py). 1 turns it off.
    max_quarantine_share: float = 0.20  # DEFAULT_MAX_QUARANTINE_SHARE

    @property
    def build_db(self) -> Path:
        """The pipeline's own DuckDB file: raw, quarantine, meta and every dbt model."""
        return self.warehouse_dir / "build.duckdb"

    @property
    def duckdb_temp_dir(self) -> Path:
        """Where DuckDB spills past its memory limit (dbt and pipeline connections)."""
        override = (os.environ.get("SEGMENTS_DUCKDB_TEMP_DIR") or "").strip()
        return Path(override) if override else self.warehouse_dir / "tmp" / "duckdb"

    @property
    def published_db(self) -> Path:
        """The read-only file BI tools open; replaced atomically on each publish."""
        return self.warehouse_dir / "segments.duckdb"

    @property
    def parquet_dir(self) -> Path:
        return self.warehouse_dir / "parquet"

    @property
    def exports_dir(self) -> Path:
        return self.warehouse_dir / "exports"

    @property
    def report_path(self) -> Path:
        return self.warehouse_dir / "report.html"

    @property
    def dbt_parse_state(self) -> Path:
        """dbt's partial parse of the project with this warehouse's connection settings."""
        return self.warehouse_dir / "tmp" / "dbt" / "partial_parse.msgpack"

    def dbt_env(self) -> dict[str, str]:
        """Environment for dbt subprocesses: profiles.yml reads these. DuckDB spills to
        `<warehouse dir>/tmp/duckdb` unless SEGMENTS_DUCKDB_TEMP_DIR says otherwise; the memory
        limit (SEGMENTS_DUCKDB_MEMORY_LIMIT, default 2GB) passes through from the environment."""
        return {
            "SEGMENTS_BUILD_DB": str(self.build_db),
            "SEGMENTS_REPORTING_CURRENCY": self.reporting_currency,
            "SEGMENTS_DUCKDB_TEMP_DIR": str(self.duckdb_temp_dir),
        }


def run_wait_seconds(default: float) -> float:
    """SEGMENTS_RUN_WAIT_SECONDS: how long a run waits for another to release the warehouse."""
    value = _env_int("SEGMENTS_RUN_WAIT_SECONDS", int(default))
    if value < 0:
        raise SettingsError(
            f"SEGMENTS_RUN_WAIT_SECONDS={value} must be 0 or more; set e.g. "
            f"SEGMENTS_RUN_WAIT_SECONDS={int(default)}."
        )
    return float(value)


# Written into a new DAGSTER_HOME: the daemon starts one run at a time (the build database
# has one writer), and runs stuck starting are failed after 3 minutes.
DAGSTER_YAML = """\
# Written by the segments pipeline (pipelines/settings.py) when DAGSTER_HOME was new; edit freely.
concurrency:
  runs:
    max_concurrent_runs: 1   # one run at a time: DuckDB allows one writer of build.duckdb
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  max_resume_run_attempts: 0
telemetry:
  enabled: false
"""


def ensure_dagster_home(cfg: Settings) -> Path:
    """Point DAGSTER_HOME at `<warehouse>/dagster_home` unless the user chose one, so runs
    started by the CLI show in `make dev`'s UI."""
    home = Path(os.environ.get("DAGSTER_HOME") or cfg.warehouse_dir / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    instance_yaml = home / "dagster.yaml"
    if not instance_yaml.exists():
        instance_yaml.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = os.fspath(home.resolve())
    return home


def load() -> Settings:
    """Read settings from the environment (defaults relative to the project root).

    A `.env` file in the project root is read first; variables already set win over it.
    """
    _load_dotenv()
    landing = Path(os.environ.get("SEGMENTS_LANDING_DIR") or PROJECT_ROOT / "data" / "landing")
    warehouse = Path(
        os.environ.get("SEGMENTS_WAREHOUSE_DIR") or PROJECT_ROOT / "data" / "warehouse"
    )
    currency = (os.environ.get("SEGMENTS_REPORTING_CURRENCY") or "USD").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise SettingsError(
            f"SEGMENTS_REPORTING_CURRENCY={currency!r} is not an ISO 4217 code; "
            "use e.g. USD or EUR."
        )
    start = _env_date("SEGMENTS_START_DATE", "2020-01-01")
    assert start is not None
    return Settings(
        landing_dir=landing.resolve(),
        warehouse_dir=warehouse.resolve(),
        reporting_currency=currency,
        start_date=start,
        as_of_date=_env_date("SEGMENTS_AS_OF_DATE", None),
        freshness_max_age_hours=_env_int("SEGMENTS_FRESHNESS_MAX_AGE_HOURS", 36),
        include_pii=os.environ.get("SEGMENTS_PUBLISH_PII", "").lower() in ("1", "true", "yes"),
        history_months=_env_positive("SEGMENTS_HISTORY_MONTHS", 24),
        history_daily_days=_env_positive("SEGMENTS_HISTORY_DAILY_DAYS", 35),
        allow_shrinking_reload=os.environ.get("SEGMENTS_ALLOW_SHRINKING_RELOAD", "").lower()
        in ("1", "true", "yes"),
        export_consent=parse_export_consent(os.environ.get("SEGMENTS_EXPORT_CONSENT", "")),
        max_quarantine_share=_env_share(
            "SEGMENTS_MAX_QUARANTINE_SHARE", DEFAULT_MAX_QUARANTINE_SHARE
        ),
    )
