"""What every source module needs: a person as one source system has them on file."""

from __future__ import annotations

import polars as pl

from pipelines.generate.text import email_spelling, phone


def attach(table: pl.DataFrame, key: str = "person_id") -> list[pl.Expr]:
    """`table`'s columns for each row's `key`, where `key` is the row's position in `table`.

    A positional gather, not a join: a join would hash the whole people table once per file
    (24 months x 5 sources x a million people), a gather only touches the rows being written.
    """
    return [pl.lit(table[c]).gather(pl.col(key)).alias(c) for c in table.columns if c != key]


def stable_share(person_id: pl.Expr, salt: int, share: float) -> pl.Expr:
    """True for a stable `share` of people (per person and purpose, not per row).

    A multiplicative hash of the id: the same person always does or does not give a source
    their phone, whichever file the row lands in, with no random stream to keep in step.
    """
    bucket = ((person_id * 2_654_435_761 + salt * 40_503) % 4_294_967_296) / 4_294_967_296
    return bucket < share


def person_view(people: pl.DataFrame, source: str, *, phone_share: float) -> pl.DataFrame:
    """One row per person with the email and phone exactly as `source` has them written.

    The person's home system keeps their home spelling, a second system its own, different
    one; guests leave neither. `phone_share` of people gave this source a phone number.
    """
    at_home = pl.col("home_channel") == source
    guest = pl.col("kind") == "guest"
    spelling = (
        pl.when(at_home)
        .then(pl.col("email_spelling_home"))
        .otherwise(pl.col("email_spelling_second"))
    )
    phone_format = (
        pl.when(at_home).then(pl.col("phone_format_home")).otherwise(pl.col("phone_format_second"))
    )
    gave_phone = stable_share(
        pl.col("person_id"), salt=len(source) * 7 + ord(source[0]), share=phone_share
    )
    return people.select(
        "person_id",
        "kind",
        "planted",
        "full_name",
        "first_name",
        "last_name",
        "city",
        "country",
        "country_name",
        "consent",
        "stripe_customer",
        "loyalty_card",
        "anonymous_id",
        "email",
        email_written=pl.when(guest)
        .then(None)
        .otherwise(email_spelling(pl.col("email"), spelling)),
        phone_written=pl.when(guest | ~gave_phone)
        .then(None)
        .otherwise(
            phone(pl.col("calling_code"), pl.col("national"), pl.col("trunk_zero"), phone_format)
        ),
    )
