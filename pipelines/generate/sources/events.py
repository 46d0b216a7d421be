"""Engagement events as JSON Lines: web analytics plus the email tool.

Files: `events/events_<YYYY-MM>.jsonl` (or `_<YYYY-MM-DD>`), by the event's UTC date. One line
per event: `{"event", "timestamp" (ISO 8601 UTC, 'Z'), "email", "anonymous_id", "properties"}`.
Web events carry the browser's `anonymous_id` and, when the visitor is logged in, their email;
email-tool events (`email_open`, `email_click`) carry the email only. About
`EVENTS_PER_TRANSACTION` events per purchase, from five kinds of activity:

- the session before a web purchase (session_start, page_view, add_to_cart);
- email opens and clicks of people who consented to marketing;
- browsing sessions of known people (buyers and prospects) that end without a purchase;
- "browsers not buyers": a few people with several sessions in the last 30 days;
- anonymous visitors who never identify themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.generate import spec, writer
from pipelines.generate.catalog import catalog
from pipelines.generate.sources.common import attach
from pipelines.generate.text import HEX, cycle, jobject, jstr, random_tokens, rng_for
from pipelines.generate.world import World

# Activity per purchase at the default EVENTS_PER_TRANSACTION (3): purchases that come with a
# tracked web session, email opens, browsing sessions of known people, anonymous sessions.
_PER_PURCHASE = {"purchase_sessions": 0.6, "email_opens": 0.55, "browse_sessions": 0.12,
                 "anonymous_sessions": 0.15}  # fmt: skip
# An Enum, not a String column: tens of millions of rows repeat five values.
EVENT_TYPE = pl.Enum(["session_start", "page_view", "add_to_cart", "email_open", "email_click"])
_REFERRERS = ("google", "direct", "newsletter", "instagram", "facebook", "bing")
_DEVICES = ("mobile", "desktop", "tablet")
_CAMPAIGNS = ("spring-sale", "new-arrivals", "vip-early-access", "win-back", "weekly-picks")


def _n_visitors(world: World) -> int:
    return max(1, int(spec.ANONYMOUS_VISITOR_SHARE * world.people.height))


def _frame(event: str, ts, person, identified, session=-1, product=-1, campaign=-1) -> pl.DataFrame:
    """Events of one type; scalars broadcast. person_id past the people is an anonymous
    visitor, product_id -1 the home page, campaign -1 none."""
    n = len(ts)

    def column(value, dtype):
        return np.broadcast_to(np.asarray(value, dtype=dtype), n)

    return pl.DataFrame({
        "event": pl.repeat(event, n, eager=True, dtype=pl.String).cast(EVENT_TYPE),
        "ts": np.asarray(ts, dtype=np.int64),
        "person_id": column(person, np.int64),
        "identified": column(identified, bool),
        "session": column(session, np.int64),
        "product_id": column(product, np.int64),
        "campaign": column(campaign, np.int64),
    })  # fmt: skip


def _sessions(rng, start_ts, person, identified, first_session: int) -> pl.DataFrame:
    """A session_start followed by 1-3 page views (home or a product), a few minutes apart."""
    n = len(start_ts)
    session = first_session + np.arange(n)
    views = 1 + rng.integers(0, 3, n)
    owner = np.repeat(np.arange(n), views)
    # Each view 20-240 s after the previous one: a cumulative sum restarted per session.
    gaps = rng.integers(20, 240, owner.size)
    elapsed = np.cumsum(gaps)
    first_view = np.cumsum(views) - views
    offset = elapsed - np.repeat(elapsed[first_view] - gaps[first_view], views)
    product = rng.integers(-1, catalog().height, owner.size)
    return pl.concat([
        _frame("session_start", start_ts, person, identified, session),
        _frame("page_view", start_ts[owner] + offset, person[owner], identified[owner],
               session[owner], product),
    ])  # fmt: skip


def _purchase_sessions(rng, world: World, share: float) -> pl.DataFrame:
    """The session before a web purchase: start, a view of the product, add to cart (70%)."""
    tracked = pl.Series(rng.random(world.purchases.height) < share)
    web = world.purchases.filter((pl.col("channel") != "pos") & tracked)
    first_lines = world.lines.filter(pl.col("line_no") == 1).select("purchase_id", "product_id")
    web = web.join(first_lines, on="purchase_id", how="left", maintain_order="left")
    ts, person = web["ts"].to_numpy(), web["person_id"].to_numpy()
    product = web["product_id"].to_numpy()
    lead = rng.integers(300, 1800, web.height)
    logged_in = rng.random(web.height) < 0.45
    session = np.arange(web.height)
    cart = rng.random(web.height) < 0.7
    return pl.concat([
        _frame("session_start", ts - lead, person, logged_in, session),
        _frame("page_view", ts - lead * 6 // 10, person, logged_in, session, product),
        _frame("add_to_cart", (ts - lead // 5)[cart], person[cart], logged_in[cart],
               session[cart], product[cart]),
    ])  # fmt: skip


def _email_engagement(rng, opens: int, ids, when_active, consenting) -> pl.DataFrame:
    """Opens of campaign emails by people who consented; 30% click a few minutes later."""
    who = consenting[rng.integers(0, consenting.size, opens)]
    open_ts = when_active(who)
    campaign = rng.integers(0, len(_CAMPAIGNS), opens)
    click = rng.random(opens) < 0.3
    click_ts = open_ts[click] + rng.integers(10, 600, click.sum())
    return pl.concat([
        _frame("email_open", open_ts, ids[who], True, campaign=campaign),
        _frame("email_click", click_ts, ids[who][click], True, campaign=campaign[click]),
    ])  # fmt: skip


def _parts(world: World) -> tuple[list[pl.DataFrame], np.random.Generator]:
    """The five kinds of activity as separate frames (unsorted), and the random stream after
    them (the defects are drawn from it next)."""
    rng = rng_for(world.seed, "events")
    budget = {k: int(v * spec.EVENTS_PER_TRANSACTION / 3.0 * world.purchases.height)
              for k, v in _PER_PURCHASE.items()}  # fmt: skip
    people = world.people.filter(pl.col("kind") != "guest")
    ids = people["person_id"].to_numpy()
    since = np.maximum(people["signup_day"].to_numpy(), 0.0)

    def when_active(who: np.ndarray) -> np.ndarray:
        """A uniform moment between the person's sign-up (or the window start) and the end."""
        day = since[who] + rng.random(who.size) * (world.days - since[who])
        return world.start_epoch + (day * 86_400).astype(np.int64)

    share = min(1.0, budget["purchase_sessions"] / max(1, world.purchases.height))
    parts = [_purchase_sessions(rng, world, share)]
    consenting = np.flatnonzero(people["consent"].to_numpy())
    parts.append(_email_engagement(rng, budget["email_opens"], ids, when_active, consenting))
    # Session ids continue after the purchase sessions' (0..purchases-1).
    next_session = world.purchases.height

    browsing = rng.integers(0, ids.size, budget["browse_sessions"])
    logged_in = rng.random(browsing.size) < 0.5
    parts.append(_sessions(rng, when_active(browsing), ids[browsing], logged_in, next_session))
    next_session += browsing.size

    # Browsers not buyers: ~4% of people, 3-6 sessions in the last 30 days, mostly logged in.
    keen = np.flatnonzero(rng.random(ids.size) < 0.04)
    keen = np.repeat(keen, rng.integers(3, 7, keen.size))
    keen_ts = world.end_epoch - rng.integers(60, 30 * 86_400, keen.size)
    parts.append(_sessions(rng, keen_ts, ids[keen], rng.random(keen.size) < 0.8, next_session))
    next_session += keen.size

    # Anonymous visitors never log in; their ids follow the people's (see _render).
    visitors = rng.integers(0, _n_visitors(world), budget["anonymous_sessions"])
    visit_ts = world.start_epoch + rng.integers(0, world.days * 86_400, visitors.size)
    anonymous = np.zeros(visitors.size, bool)
    parts.append(_sessions(rng, visit_ts, world.people.height + visitors, anonymous, next_session))
    return parts, rng


# The order of the events in a file (and across files: a file holds a range of `ts`).
_ORDER = ("ts", "session", "event", "person_id")


def _periods(world: World, split: str, bad_row_rate: float) -> Iterator[pl.DataFrame]:
    """The events of each file (month or day) in turn, sorted, with their `bad` column.

    The same rows, order and defects as sorting all events at once and breaking rows along
    that order, without ever holding a second copy of them all: three events per purchase are
    ~90M rows at 30M transactions, and the sort of all of them at once took the generator past
    24 GiB. Each part is sorted on its own; a file's rows are then a contiguous slice of each
    part (`ts` decides the file), merged and sorted again, and take their defects from the
    slice of the one draw that the all-at-once order would have given them.
    """
    parts, rng = _parts(world)
    window = pl.col("ts").is_between(world.start_epoch, world.end_epoch - 1)
    keyed = [
        part.filter(window).sort(_ORDER).with_columns(_period=writer.period(pl.col("ts"), split))
        for part in parts
    ]
    del parts
    kinds = (writer.TRUNCATED, writer.BAD_TIMESTAMP)
    bad = writer.defects(rng, sum(part.height for part in keyed), bad_row_rate, kinds)
    # Where each file's rows start and how many there are, per part.
    runs = [{key: (start, n) for key, start, n in _runs(part["_period"])} for part in keyed]
    offset = 0
    for key in sorted(set().union(*runs)):
        chunk = pl.concat(
            [part.slice(*run[key]) for part, run in zip(keyed, runs, strict=True) if key in run]
        ).sort(_ORDER)
        yield chunk.with_columns(bad=bad.slice(offset, chunk.height))
        offset += chunk.height


def _runs(sorted_keys: pl.Series) -> Iterator[tuple[str, int, int]]:
    """(key, first row, rows) of each run of equal values in a sorted column."""
    start = 0
    for key, n in sorted_keys.rle().struct.unnest().select("value", "len").iter_rows():
        yield key, start, n
        start += n


_UUID_GROUPS = ((0, 8), (8, 4), (12, 4), (16, 4), (20, 12))  # 8-4-4-4-12 hex digits


def _properties(event: pl.Expr) -> pl.Expr:
    """The `properties` object, whose keys depend on the event type."""
    session_id = jstr(pl.lit("s") + pl.col("session").cast(pl.String))
    path = (
        pl.when(pl.col("sku").is_null())
        .then(pl.lit("/"))
        .otherwise(pl.lit("/products/") + pl.col("sku").str.to_lowercase())
    )
    sku, campaign = jstr(pl.col("sku")), jstr(pl.col("campaign_name"))
    url = pl.lit("https://northwind-shop.example/?utm_campaign=") + pl.col("campaign_name")
    session_start = {
        "session_id": session_id,
        "referrer": jstr(cycle(_REFERRERS, pl.col("session"))),
        "device": jstr(cycle(_DEVICES, pl.col("session"))),
    }
    return (
        pl.when(event == "session_start").then(jobject(session_start))
        .when(event == "page_view").then(jobject({"session_id": session_id, "path": jstr(path)}))
        .when(event == "add_to_cart").then(jobject({"session_id": session_id, "sku": sku}))
        .when(event == "email_open").then(jobject({"campaign": campaign}))
        .otherwise(jobject({"campaign": campaign, "url": jstr(url)}))
    )  # fmt: skip


def _render(world: World):
    n_visitors = _n_visitors(world)
    # People, then anonymous visitors, so that person_id is the row (sources.common.attach).
    visitors = pl.DataFrame({
        "person_id": world.people.height + np.arange(n_visitors, dtype=np.int64),
        "email": pl.repeat(None, n_visitors, dtype=pl.String, eager=True),
        "anonymous_id": random_tokens(rng_for(world.seed, "visitors"), n_visitors, 32, HEX),
    })  # fmt: skip
    who = pl.concat([world.people.select("person_id", "email", "anonymous_id"), visitors])
    products = catalog().select("product_id", "sku", "category").lazy()
    campaigns = pl.DataFrame(
        {"campaign": np.arange(len(_CAMPAIGNS), dtype=np.int64), "campaign_name": _CAMPAIGNS}
    ).lazy()

    def render(rows: pl.LazyFrame) -> pl.LazyFrame:
        full = (
            rows.with_columns(attach(who))
            .join(products, on="product_id", how="left", maintain_order="left")
            .join(campaigns, on="campaign", how="left", maintain_order="left")
        )
        event = pl.col("event").cast(pl.String)
        uuid = pl.concat_str(
            [pl.col("anonymous_id").str.slice(i, k) for i, k in _UUID_GROUPS], separator="-"
        )
        web = event.is_in(["session_start", "page_view", "add_to_cart"])
        timestamp = pl.from_epoch(pl.col("ts"), time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        line = jobject(
            {
                "event": jstr(event),
                "timestamp": pl.when(pl.col("bad") == writer.BAD_TIMESTAMP)
                .then(pl.lit('"not a date"'))
                .otherwise(jstr(timestamp)),
                "email": jstr(pl.when(pl.col("identified")).then(pl.col("email"))),
                "anonymous_id": jstr(pl.when(web).then(uuid)),
                "properties": _properties(event),
            }
        )
        # Two steps: `truncated` reads the line three times; build it once.
        return full.select(pl.col("bad"), line=line).select(line=writer.truncated(pl.col("line")))

    return render


def write(world: World, landing_dir: Path, split: str, bad_row_rate: float) -> writer.Written:
    return writer.write_periods(
        _periods(world, split, bad_row_rate),
        landing_dir=landing_dir,
        source_dir="events",
        stem="events",
        suffix=".jsonl",
        render=_render(world),
        sink=writer.write_lines,
    )
