{#
    The ISO 4217 code every amount is converted to, from SEGMENTS_REPORTING_CURRENCY (default
    USD). raw.fx_rates holds `rate_to_<this currency>`; ingestion rejects fx files for another
    currency, so this value and the rates always agree.
#}
{% macro reporting_currency() -%}
    {%- set code = env_var('SEGMENTS_REPORTING_CURRENCY', 'USD') | trim | upper -%}
    {%- if code | length != 3 or not code.isalpha() -%}
        {{ exceptions.raise_compiler_error(
            "SEGMENTS_REPORTING_CURRENCY='" ~ code ~ "' is not an ISO 4217 code; set e.g. USD or EUR."
        ) }}
    {%- endif -%}
    {{ return(code) }}
{%- endmacro %}
