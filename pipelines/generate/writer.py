"""Writing rendered rows into the landing zone: one file per source per month or day.

A source module hands over a frame of typed rows with a `ts` column (UTC epoch seconds, which
decides the file) and a `bad` column (which deliberate defect, if any, the row carries), plus a
`render` function that turns rows into the native columns. Rendering happens per file, so the
peak memory is one month of one source, not the whole history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.generate.text import cycle, utc_date

SPLITS = ("month", "day")

# Defect kinds a row can carry (0 = a clean row); each source decides which column breaks.
CLEAN, BAD_AMOUNT, BAD_TIMESTAMP, TRUNCATED, BAD_DATE = 0, 1, 2, 3, 4
# What a broken value looks like, in the spirit of real exports: mistyped, garbled, impossible.
BAD_AMOUNTS = ("12,3x", "N/A", "1.2.3", "--", "zł 45")
BAD_TIMESTAMPS = ("2024-02-30 25:61:00", "not a date", "31/31/2024", "0000-00-00", "yesterday")
BAD_DATES = ("1985-02-30", "31/02/1990", "19xx-01-01", "2024-13-01")


@dataclass
class Written:
    """What one source wrote: files (relative to the landing dir), data rows, broken rows."""

    files: list[str] = field(default_factory=list)
    rows: int = 0
    bad_rows: int = 0


def defects(
    rng: np.random.Generator,
    n: int,
    rate: float,
    kinds: tuple[int, ...],
    protected: np.ndarray | None = None,
) -> pl.Series:
    """Which rows to break and how: `rate` of the rows get one of `kinds`, protected rows never."""
    broken = rng.random(n) < rate
    if protected is not None:
        broken &= ~protected
    kind = np.asarray(kinds, dtype=np.int8)[rng.integers(0, len(kinds), n)]
    return pl.Series("bad", np.where(broken, kind, CLEAN).astype(np.int8))


def broken(value: pl.Expr, kind: int, replacements: tuple[str, ...]) -> pl.Expr:
    """`value`, or a broken stand-in on rows whose `bad` column is `kind`.

    The stand-in is picked by the row's `ts`, so a row breaks the same way whichever file
    (month or day) it lands in, with no random stream to keep in step.
    """
    return pl.when(pl.col("bad") == kind).then(cycle(replacements, pl.col("ts"))).otherwise(value)


def truncated(line: pl.Expr) -> pl.Expr:
    """A JSON line cut in half (a crashed exporter, a partial write) on TRUNCATED rows."""
    return (
        pl.when(pl.col("bad") == TRUNCATED)
        .then(line.str.slice(0, line.str.len_chars() // 2))
        .otherwise(line)
    )


def period(epoch_seconds: pl.Expr, split: str) -> pl.Expr:
    """The file a row belongs to: its UTC month ('2024-03') or day ('2024-03-05')."""
    return utc_date(epoch_seconds).dt.strftime("%Y-%m" if split == "month" else "%Y-%m-%d")


def write_csv(
    frame: pl.DataFrame, path: Path, *, separator: str = ",", quote_all: bool = False
) -> None:
    frame.write_csv(path, separator=separator, quote_style="always" if quote_all else "necessary")


def write_lines(frame: pl.DataFrame, path: Path) -> None:
    """One already-encoded line per row (JSON Lines), written verbatim."""
    frame.select(pl.col("line")).write_csv(path, include_header=False, quote_style="never")


def _collect(frame: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    """Renders run lazily: polars then shares sub-expressions (a JSON line reads its fields once)
    and spreads the work over the cores."""
    return frame.collect() if isinstance(frame, pl.LazyFrame) else frame


def write_partitioned(
    rows: pl.DataFrame,
    *,
    landing_dir: Path,
    source_dir: str,
    stem: str,
    suffix: str,
    split: str,
    render: Callable[[pl.LazyFrame], pl.LazyFrame],
    sink: Callable[[pl.DataFrame, Path], None],
) -> Written:
    """Render and write `rows` (sorted by `ts`) as `<source_dir>/<stem>_<period><suffix>` files.

    Periods with no rows get no file: a header-only file is not an export anyone produces.
    """
    keyed = rows.with_columns(_period=period(pl.col("ts"), split))
    chunks = keyed.partition_by("_period", maintain_order=True, as_dict=True)
    return write_periods(
        (chunk for _, chunk in sorted(chunks.items())),
        landing_dir=landing_dir,
        source_dir=source_dir,
        stem=stem,
        suffix=suffix,
        render=render,
        sink=sink,
    )


def write_periods(
    chunks: Iterable[pl.DataFrame],
    *,
    landing_dir: Path,
    source_dir: str,
    stem: str,
    suffix: str,
    render: Callable[[pl.LazyFrame], pl.LazyFrame],
    sink: Callable[[pl.DataFrame, Path], None],
) -> Written:
    """Write one file per chunk; each chunk holds the rows of one period, in a `_period` column
    (`period(ts, split)`). For sources too big to partition in one piece (events)."""
    directory = landing_dir / source_dir
    directory.mkdir(parents=True, exist_ok=True)
    written = Written()
    for chunk in chunks:
        path = directory / f"{stem}_{chunk['_period'][0]}{suffix}"
        sink(_collect(render(chunk.drop("_period").lazy())), path)
        written.files.append(path.relative_to(landing_dir).as_posix())
        written.rows += chunk.height
        written.bad_rows += int((chunk["bad"] != CLEAN).sum())
    return written


def write_single(
    rows: pl.DataFrame,
    *,
    landing_dir: Path,
    relative_path: str,
    render: Callable[[pl.LazyFrame], pl.LazyFrame],
    sink: Callable[[pl.DataFrame, Path], None],
) -> Written:
    """Render and write reference data that lives in one file (CRM contacts, FX rates)."""
    path = landing_dir / relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    sink(_collect(render(rows.lazy())), path)
    return Written([relative_path], rows.height, int((rows["bad"] != CLEAN).sum()))
