{#
    Set-based as-of computation (customer histories, int_customer_*_history).

    A run computes a set of as-of dates (meta.run_as_of_dates). Every activity day belongs to
    the *bucket* of the first as-of date on or after it, so lifetime totals as of a date are a
    running sum over the customer's buckets (one pass, each activity row read once), and
    "last N days" totals are one range join of activity days to the as-of dates whose window
    holds them. Both joins are equi-joins on a small (day, as-of date) map built from the
    distinct activity days, so no calendar and no per-window lookup rows.
#}

{#
    One row per activity day in `days_relation` (a CTE with a column `date_column`) that is on
    or before the run's last as-of date: the as-of date whose bucket holds it.
#}
{% macro as_of_bucket_days(days_relation, date_column, run_dates='run_dates') -%}
    select
        days.{{ date_column }} as activity_date,
        min({{ run_dates }}.as_of_date) as bucket_date
    from (select distinct {{ date_column }} from {{ days_relation }}) as days
    inner join {{ run_dates }}
        on {{ run_dates }}.as_of_date >= days.{{ date_column }}
    group by days.{{ date_column }}
{%- endmacro %}


{#
    One row per (activity day, as-of date) with the day 0..`max_days` days before the as-of
    date: which as-of dates' windows an activity day counts in. `max_days` may be a column of
    the one-row relation named by `cross_join` (e.g. settings).
#}
{% macro as_of_window_days(days_relation, date_column, max_days, run_dates='run_dates', cross_join=none) -%}
    select
        days.{{ date_column }} as activity_date,
        {{ run_dates }}.as_of_date,
        {{ days_between('days.' ~ date_column, run_dates ~ '.as_of_date') }} as days_ago
    from (select distinct {{ date_column }} from {{ days_relation }}) as days
    {% if cross_join %}cross join {{ cross_join }}{% endif %}
    inner join {{ run_dates }}
        on days.{{ date_column }} <= {{ run_dates }}.as_of_date
        and days.{{ date_column }} >= {{ days_before(run_dates ~ '.as_of_date', max_days) }}
{%- endmacro %}


{#
    The customer's running totals carried to every as-of date: `running_relation` holds one row
    per customer and bucket with activity, with the bucket's `bucket_date` and the customer's
    `next_bucket_date` (the next bucket with activity, or far_future()); a customer's totals
    as of a date are those of the last bucket on or before it. This returns one row per
    distinct (bucket_date, next_bucket_date) pair and as-of date in [bucket_date,
    next_bucket_date): a small map that an equi-join expands to (customer, as-of date) rows,
    instead of a window over every customer x as-of date.
#}
{% macro as_of_span_dates(running_relation, run_dates='run_dates') -%}
    select
        spans.bucket_date,
        spans.next_bucket_date,
        {{ run_dates }}.as_of_date
    from (select distinct bucket_date, next_bucket_date from {{ running_relation }}) as spans
    inner join {{ run_dates }}
        on {{ run_dates }}.as_of_date >= spans.bucket_date
        and {{ run_dates }}.as_of_date < spans.next_bucket_date
{%- endmacro %}


{# The next bucket with activity of the customer, or a far-future date after the last one. #}
{% macro next_bucket_date(partition_by='customer_id', bucket_date='bucket_date') -%}
    coalesce(
        lead({{ bucket_date }}) over (partition by {{ partition_by }} order by {{ bucket_date }}),
        cast('9999-12-31' as date)
    )
{%- endmacro %}
