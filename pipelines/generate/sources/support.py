"""Support tickets CSV (Zendesk-like): one line per ticket.

Files: `support/tickets_<YYYY-MM>.csv` (or `_<YYYY-MM-DD>`), by the ticket's UTC creation date.
`created_at` is ISO 8601 UTC (`2024-03-05T14:02:11Z`), the requester's email as they typed it.
Tickets are concentrated on a few difficult buyers (several complaints a year each); returns
come shortly before a refund; questions come from anyone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from pipelines.generate import writer
from pipelines.generate.purchases import SECONDS_PER_DAY
from pipelines.generate.sources.common import attach
from pipelines.generate.text import N_EMAIL_SPELLINGS, email_spelling, rng_for
from pipelines.generate.world import World

COLUMNS = ("ticket_id", "requester_email", "created_at", "type", "status", "priority", "subject")
_SUBJECTS = {
    "question": (
        "Where is my order?",
        "Do you ship to my country?",
        "Size guide question",
        "Change my address",
    ),
    "complaint": (
        "Item arrived damaged",
        "Order is late, again",
        "Wrong item received",
        "Charged twice",
    ),
    "return": ("I want to return an item", "Return label please", "Refund not received yet"),
}
FIRST_TICKET_ID = 10_001


def _tickets(rng: np.random.Generator, world: World) -> pl.DataFrame:
    """(ts, person_id, type) for every ticket, from the three kinds of demand."""
    orders = world.purchases
    refunds = orders.filter(
        (pl.col("refunded_minor") > 0) & pl.Series(rng.random(orders.height) < 0.6)
    )
    returns = refunds.select(
        ts=pl.max_horizontal(
            pl.col("ts"),
            pl.col("refund_ts")
            - pl.Series(rng.integers(3_600, 3 * SECONDS_PER_DAY, refunds.height)),
        ),
        person_id="person_id",
        type=pl.lit("return"),
    )
    # Difficult buyers: ~5 complaints each over the last year of the window.
    difficult = world.people.filter(
        pl.col("difficult") & pl.col("person_id").is_in(orders["person_id"].implode())
    )
    per_person = rng.poisson(5.0, difficult.height)
    complainers = np.repeat(difficult["person_id"].to_numpy(), per_person)
    year = min(365, world.days) * SECONDS_PER_DAY
    complaints = pl.DataFrame(
        {
            "ts": world.end_epoch - rng.integers(1, year, complainers.size),
            "person_id": complainers,
            "type": "complaint",
        }
    )
    # Everyone else: an occasional complaint after a purchase, questions at any time.
    sample = orders.filter(pl.Series(rng.random(orders.height) < 0.01))
    odd_complaints = sample.select(
        ts=pl.col("ts")
        + pl.Series(rng.integers(SECONDS_PER_DAY, 10 * SECONDS_PER_DAY, sample.height)),
        person_id="person_id",
        type=pl.lit("complaint"),
    )
    askers = orders.filter(pl.Series(rng.random(orders.height) < 0.04))
    questions = askers.select(
        ts=pl.col("ts") - pl.Series(rng.integers(600, 5 * SECONDS_PER_DAY, askers.height)),
        person_id="person_id",
        type=pl.lit("question"),
    )
    prospects = world.people.filter(
        (pl.col("kind") == "prospect") & pl.Series(rng.random(world.people.height) < 0.05)
    )
    prospect_questions = pl.DataFrame(
        {
            "ts": world.start_epoch
            + rng.integers(0, world.days * SECONDS_PER_DAY, prospects.height),
            "person_id": prospects["person_id"],
            "type": "question",
        }
    )
    guests = world.people.filter(pl.col("kind") == "guest")["person_id"].implode()
    return (
        pl.concat(
            [returns, complaints, odd_complaints, questions, prospect_questions],
            how="vertical_relaxed",
        )
        .filter(
            pl.col("ts").is_between(world.start_epoch, world.end_epoch - 1)
            & ~pl.col("person_id").is_in(guests)
        )
        .sort("ts", "person_id", "type")
    )


def _rows(world: World, bad_row_rate: float) -> pl.DataFrame:
    rng = rng_for(world.seed, "support")
    tickets = _tickets(rng, world)
    n = tickets.height
    return tickets.with_columns(
        ticket_id=pl.int_range(FIRST_TICKET_ID, FIRST_TICKET_ID + n, dtype=pl.Int64),
        spelling=pl.Series(rng.choice(N_EMAIL_SPELLINGS, n, p=[0.6, 0.15, 0.05, 0.1, 0.05, 0.05])),
        subject_pick=pl.Series(rng.integers(0, 4, n)),
        closed=pl.Series(rng.random(n) < 0.4),
        bad=writer.defects(rng, n, bad_row_rate, (writer.BAD_TIMESTAMP,)),
    )


def _render(world: World):
    people = world.people.select("person_id", "email")
    subjects = pl.DataFrame(
        [(kind, i, s) for kind, options in _SUBJECTS.items() for i, s in enumerate(options)],
        schema={"type": pl.String, "subject_pick": pl.Int64, "subject": pl.String},
        orient="row",
    ).lazy()

    def render(rows: pl.LazyFrame) -> pl.LazyFrame:
        full = (
            rows.with_columns(
                subject_pick=pl.col("subject_pick")
                % pl.col("type").replace_strict({k: len(v) for k, v in _SUBJECTS.items()})
            )
            .with_columns(attach(people))
            .join(subjects, on=["type", "subject_pick"], how="left", maintain_order="left")
        )
        age = world.end_epoch - pl.col("ts")
        created = pl.from_epoch(pl.col("ts"), time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        values = {
            "ticket_id": pl.col("ticket_id").cast(pl.String),
            "requester_email": email_spelling(pl.col("email"), pl.col("spelling")),
            "created_at": writer.broken(created, writer.BAD_TIMESTAMP, writer.BAD_TIMESTAMPS),
            "type": pl.col("type"),
            "status": pl.when(age < 2 * SECONDS_PER_DAY)
            .then(pl.lit("new"))
            .when(age < 7 * SECONDS_PER_DAY)
            .then(pl.lit("open"))
            .when(pl.col("closed"))
            .then(pl.lit("closed"))
            .otherwise(pl.lit("solved")),
            "priority": pl.when(pl.col("type") == "complaint")
            .then(pl.lit("high"))
            .otherwise(pl.lit("normal")),
            "subject": pl.col("subject"),
        }
        return full.select(values[name].alias(name) for name in COLUMNS)

    return render


def write(world: World, landing_dir: Path, split: str, bad_row_rate: float) -> writer.Written:
    return writer.write_partitioned(
        _rows(world, bad_row_rate),
        landing_dir=landing_dir,
        source_dir="support",
        stem="tickets",
        suffix=".csv",
        split=split,
        render=_render(world),
        sink=writer.write_csv,
    )
