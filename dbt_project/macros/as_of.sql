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
