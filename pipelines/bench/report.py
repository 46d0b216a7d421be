"""The benchmark's table: rows, ratios, the machine, rendered as Markdown and JSON.

Row keys are stable (`full_refresh`, `full_refresh.ingest`, `incremental`, `pandas_rfm`, ...)
so scripts and the test can read the JSON without parsing labels.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

GIB = 1024**3
MIB = 1024**2

PACKAGES = ("dagster", "dagster-dbt", "dbt-core", "dbt-duckdb", "duckdb", "pandas", "polars")


@dataclass(frozen=True)
class Row:
    """One line of the table. `seconds` / `peak_rss_bytes` are None where they do not apply
    (stages have no memory of their own)."""

    key: str
    label: str
    seconds: float | None
    peak_rss_bytes: int | None = None
    note: str = ""
    level: int = 0  # 1 for a stage under its refresh


@dataclass(frozen=True)
class Ratio:
    key: str
    label: str
    value: float | None  # None when the denominator is missing or zero


@dataclass
class BenchReport:
    """Everything the benchmark measured, ready to render."""

    title: str
    machine: dict[str, object]
    workload: dict[str, object]
    rows: list[Row]
    ratios: list[Ratio]
    score_agreement: dict[str, dict[str, object]]
    profiles: dict[str, dict[str, object]] = field(default_factory=dict)  # steps, dbt nodes
    warnings: list[str] = field(default_factory=list)

    def row(self, key: str) -> Row:
        return next(r for r in self.rows if r.key == key)

    @property
    def scores_match(self) -> bool:
        return all(a["matches"] for a in self.score_agreement.values())


def ratio(key: str, label: str, numerator: float | None, denominator: float | None) -> Ratio:
    if numerator is None or not denominator:
        return Ratio(key, label, None)
    return Ratio(key, label, numerator / denominator)


def _meminfo_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, object]:
    """The machine beside the figures: cores, memory, CPU, OS and the versions measured."""
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_bytes": _meminfo_bytes(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": {p: _version(p) for p in PACKAGES},
        # a shared machine: the load before and after says how much the figures can be trusted
        "load_average_start": list(os.getloadavg()),
    }


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds >= 600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s" if seconds >= 10 else f"{seconds:.2f} s"


def format_bytes(n: int | None) -> str:
    if n is None:
        return ""
    return f"{n / GIB:.2f} GiB" if n >= GIB else f"{n / MIB:.0f} MiB"


def format_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}×"


def _machine_line(machine: dict[str, object]) -> str:
    memory = machine.get("memory_bytes")
    load_start = ", ".join(f"{x:.2f}" for x in machine.get("load_average_start", []))
    load_end = ", ".join(f"{x:.2f}" for x in machine.get("load_average_end", []))
    packages = ", ".join(f"{k} {v}" for k, v in machine["packages"].items() if v)
    return (
        f"Machine: {machine['cpu_model']}, {machine['cores_usable']} of {machine['cores']} cores, "
        f"{format_bytes(memory) if memory else '? GiB'} RAM, {machine['platform']}, "
        f"Python {machine['python']}; {packages}. Load average (1, 5, 15 min) at start "
        f"{load_start}, at end {load_end}."
    )


def _node_name(unique_id: str) -> str:
    """`model.segments.customer_facts` → customer_facts; a test keeps its name, not its hash."""
    parts = unique_id.split(".")
    return parts[2] if len(parts) > 2 else unique_id


def render_markdown(report: BenchReport) -> str:
    """The table as Markdown: measurements, ratios, then the slowest steps (the profile)."""
    w = report.workload
    lines = [
        f"# {report.title}",
        "",
        _machine_line(report.machine),
        "",
        f"Data: {w['transactions']:,} transactions ({w['requested_transactions']:,} requested) "
        f"over {w['days']} days ({w['start']} .. {w['as_of']}), {w['customers_scored']:,} "
        f"customers with RFM scores as of {w['as_of']}, {w['landed_files']:,} landed files; "
        f"new day {w['new_day']}: {w['new_day_transactions']:,} transactions in "
        f"{w['new_day_files']} files. Peers read the same transactions from one CSV "
        f"({w['peer_input']}).",
        "",
        "| measurement | time | peak memory | note |",
        "| --- | ---: | ---: | --- |",
    ]
    for row in report.rows:
        label = f"· {row.label}" if row.level else f"**{row.label}**"
        lines.append(
            f"| {label} | {format_seconds(row.seconds)} | {format_bytes(row.peak_rss_bytes)} "
            f"| {row.note} |"
        )
    for r in report.ratios:
        lines.append(f"| {r.label} | {format_ratio(r.value)} | | |")
    for name, profile in report.profiles.items():
        lines += [
            "",
            f"## Slowest steps: {name}",
            "",
            "| step | stage | time | events |",
            "| --- | --- | ---: | ---: |",
        ]
        for step in profile["slowest_steps"]:
            lines.append(
                f"| {step['step_key']} | {step['stage']} | {format_seconds(step['seconds'])} "
                f"| {step['events']:,} |"
            )
        for step_key, dbt in profile.get("dbt", {}).items():
            lines += [
                "",
                f"dbt nodes in `{step_key}` (execution time, slowest first): "
                + ", ".join(f"{_node_name(uid)} {s:.2f} s" for uid, s in dbt["slowest"]),
            ]
    if report.warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in report.warnings]
    return "\n".join(lines) + "\n"


def to_json(report: BenchReport) -> str:
    data = asdict(report)
    data["scores_match"] = report.scores_match
    return json.dumps(data, indent=2, default=str)


def write_report(report: BenchReport, results_dir: Path, stem: str) -> tuple[Path, Path]:
    """Write `<stem>.md` and `<stem>.json` into `results_dir`; returns both paths."""
    results_dir.mkdir(parents=True, exist_ok=True)
    md = results_dir / f"{stem}.md"
    js = results_dir / f"{stem}.json"
    md.write_text(render_markdown(report))
    js.write_text(to_json(report))
    return md, js
