"""CRM contacts CSV (HubSpot-like): one line per contact record, in one file.

File: `crm/contacts.csv`. Most buyers and every prospect (people who never buy) have a record.
The mess a CRM accumulates is all here: duplicate records of one person (another spelling of
the email, another phone format, a later `created_at`), records without email, mixed-case
emails, phones in six formats, countries as names or ISO codes, genders as words or letters,
consent as true/false/yes/no/1/0, missing birth dates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from pipelines.generate import writer
from pipelines.generate.text import (
    N_EMAIL_SPELLINGS,
    N_PHONE_FORMATS,
    email_spelling,
    phone,
    rng_for,
)
from pipelines.generate.world import World

COLUMNS = (
    "email", "first_name", "last_name", "phone", "birth_date", "gender", "city", "country",
    "created_at", "lifecycle_stage", "marketing_consent",
)  # fmt: skip
BUYER_COVERAGE = 0.85  # share of buyers the CRM knows
DUPLICATE_SHARE = 0.06
BLANK_EMAIL_SHARE = 0.03
_TRUE, _FALSE = np.array(["true", "yes", "1", "TRUE"]), np.array(["false", "no", "0", "FALSE"])
_PROSPECT_STAGES = np.array(["lead", "subscriber", "marketingqualifiedlead"])


def _known_records(rng: np.random.Generator, people: pl.DataFrame) -> pl.DataFrame:
    """Every prospect, most buyers, every planted non-guest; some twice (`copy` 1).

    Planted people never get a random duplicate; Anna (two_spellings) always has one.
    """
    kind, planted = people["kind"].to_numpy(), people["planted"].is_not_null().to_numpy()
    known = (
        (kind == "prospect")
        | ((kind == "buyer") & (rng.random(people.height) < BUYER_COVERAGE))
        | (planted & (kind != "guest"))
    )
    first = people.filter(pl.Series(known)).with_columns(copy=pl.lit(0))
    anna = first["planted"].eq_missing("two_spellings").to_numpy()
    twice = (rng.random(first.height) < DUPLICATE_SHARE) & first["planted"].is_null().to_numpy()
    second = first.filter(pl.Series(twice | anna)).with_columns(copy=pl.lit(1))
    return pl.concat([first, second])


def _records(rng: np.random.Generator, world: World, bad_row_rate: float) -> pl.DataFrame:
    """One row per CRM record with how each field is (mis)written, sorted by creation time."""
    records = _known_records(rng, world.people)
    m = records.height
    copy = records["copy"].to_numpy()
    # Created up to 60 days before the first purchase; a duplicate up to 400 days later.
    created_day = records["signup_day"].to_numpy() - 60 * rng.random(m) + copy * 400 * rng.random(m)
    created_day = np.minimum(created_day, world.days - 1)
    spelling = rng.choice(N_EMAIL_SPELLINGS, m, p=[0.55, 0.2, 0.05, 0.1, 0.05, 0.05])
    phone_format = rng.integers(0, N_PHONE_FORMATS, m)
    # Anna's two records: exactly PLANTED["two_spellings"]["crm_phones"] (formats 0 and 1) and
    # her email as 'anna.k@mail.com' and 'Anna.K@Mail.com'.
    anna = records["planted"].eq_missing("two_spellings").to_numpy()
    is_planted = records["planted"].is_not_null().to_numpy()
    consent = records["consent"].to_numpy()
    return records.with_columns(
        ts=pl.Series(world.start_epoch + np.floor(created_day * 86_400).astype(np.int64)),
        spelling=pl.Series(np.where(anna, copy, spelling)),
        phone_format=pl.Series(np.where(anna, copy, phone_format)),
        has_email=pl.Series((rng.random(m) >= BLANK_EMAIL_SHARE) | is_planted),
        has_phone=pl.Series((rng.random(m) < 0.75) | anna),
        has_birth_date=pl.Series(rng.random(m) < 0.88),
        gender_style=pl.Series(rng.choice(3, m, p=[0.85, 0.05, 0.10])),
        country_style=pl.Series(rng.choice(3, m, p=[0.85, 0.10, 0.05])),
        stage=pl.Series(_PROSPECT_STAGES[rng.choice(3, m, p=[0.5, 0.4, 0.1])]),
        consent_text=pl.Series(
            np.where(consent, _TRUE[rng.integers(0, 4, m)], _FALSE[rng.integers(0, 4, m)])
        ),
        bad=writer.defects(
            rng, m, bad_row_rate, (writer.BAD_TIMESTAMP, writer.BAD_DATE), protected=is_planted
        ),
    ).sort("ts", "person_id", "copy")


def _render(end_epoch: int):
    def render(rows: pl.LazyFrame) -> pl.LazyFrame:
        birth = pl.lit(end_epoch) - pl.col("age_days") * 86_400
        born = pl.from_epoch(birth, time_unit="s").dt.strftime("%Y-%m-%d")
        created = pl.from_epoch(pl.col("ts"), time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")
        values = {
            "email": pl.when(pl.col("has_email")).then(
                email_spelling(pl.col("email"), pl.col("spelling"))
            ),
            "first_name": pl.col("first_name"),
            "last_name": pl.col("last_name"),
            "phone": pl.when(pl.col("has_phone")).then(
                phone(
                    pl.col("calling_code"),
                    pl.col("national"),
                    pl.col("trunk_zero"),
                    pl.col("phone_format"),
                )
            ),
            "birth_date": writer.broken(
                pl.when(pl.col("has_birth_date")).then(born), writer.BAD_DATE, writer.BAD_DATES
            ),
            "gender": pl.when(pl.col("gender_style") == 0)
            .then(pl.col("gender"))
            .when(pl.col("gender_style") == 1)
            .then(pl.col("gender").str.slice(0, 1).str.to_uppercase()),
            "city": pl.col("city"),
            "country": pl.when(pl.col("country_style") == 0)
            .then(pl.col("country_name"))
            .when(pl.col("country_style") == 1)
            .then(pl.col("country")),
            "created_at": writer.broken(created, writer.BAD_TIMESTAMP, writer.BAD_TIMESTAMPS),
            "lifecycle_stage": pl.when(pl.col("kind") == "prospect")
            .then(pl.col("stage"))
            .otherwise(pl.lit("customer")),
            "marketing_consent": pl.col("consent_text"),
        }
        return rows.select(values[name].alias(name) for name in COLUMNS)

    return render


def write(world: World, landing_dir: Path, bad_row_rate: float) -> writer.Written:
    records = _records(rng_for(world.seed, "crm"), world, bad_row_rate)
    return writer.write_single(
        records,
        landing_dir=landing_dir,
        relative_path="crm/contacts.csv",
        render=_render(world.end_epoch),
        sink=writer.write_csv,
    )
