{#
    Normalisation of the identifiers used to stitch customers across sources. One definition,
    used by every staging model, so "the same email" means the same thing everywhere.
#}

{# Email: trimmed and lower-cased; blank → null. 'Anna.K@Mail.com ' → 'anna.k@mail.com'. #}
{% macro normalize_email(column) -%}
    nullif(lower(trim({{ column }})), '')
{%- endmacro %}


{#
    Phone: digits only, with a leading '+' kept and a leading international prefix '00'
    turned into '+'. '+48 601 234 567' and '0048601234567' → '+48601234567'.
    A national number without a country code ('601-234-567', '(0)30 1234') stays digits only
    ('601234567'): adding a country code would need a guess about the country, and a wrong
    guess merges strangers. Fewer than 6 digits → null: too short to identify a person.
    Dispatched, because regular expressions differ between engines.
#}
{% macro normalize_phone(column) -%}
    {{ return(adapter.dispatch('normalize_phone', 'segments')(column)) }}
{%- endmacro %}

{#
    DuckDB: the same rules with the (slow) regular expression evaluated once per row; the
    scalar subquery only names the intermediate values and is planned as a projection.
#}
{% macro duckdb__normalize_phone(column) -%}
    (
        select
            case
                when length(digits) < 6 then null
                when written like '+%' then '+' || digits
                when digits like '00%' then '+' || substr(digits, 3)
                else digits
            end
        from (
            select
                regexp_replace({{ column }}, '[^0-9]', '', 'g') as digits,
                ltrim({{ column }}) as written
        ) as phone_parts
    )
{%- endmacro %}

{% macro default__normalize_phone(column) -%}
    case
        when length(regexp_replace(coalesce({{ column }}, ''), '[^0-9]', '', 'g')) < 6 then null
        when trim({{ column }}) like '+%'
            then '+' || regexp_replace({{ column }}, '[^0-9]', '', 'g')
        when regexp_replace({{ column }}, '[^0-9]', '', 'g') like '00%'
            then '+' || substr(regexp_replace({{ column }}, '[^0-9]', '', 'g'), 3)
        else regexp_replace({{ column }}, '[^0-9]', '', 'g')
    end
{%- endmacro %}


{# Free text (names, cities): trimmed, blank → null. Spelling is kept. #}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}


{# A text field of a JSON column, e.g. Stripe's metadata.category. Dispatched per engine. #}
{% macro json_text(column, key) -%}
    {{ return(adapter.dispatch('json_text', 'segments')(column, key)) }}
{%- endmacro %}

{% macro default__json_text(column, key) -%}
    nullif(trim(json_extract_string({{ column }}, '$.{{ key }}')), '')
{%- endmacro %}
