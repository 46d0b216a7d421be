{#
    Identifiers that stitch customers together (int_customer_identity). An identifier is
    '<alias_type>:<alias_value>', e.g. 'email:anna.k@mail.com', 'phone:+48601234567',
    'stripe_customer:cus_A', 'generic_customer:pos:L1', 'guest:shopify:1003'.
#}
{% macro identifier(alias_type, alias_value) -%}
    {{ alias_type }} || ':' || {{ alias_value }}
{%- endmacro %}


{#
    The identifier that represents one source record (a transaction, a CRM contact) in the
    identity graph: its account id, else its email, else its phone. Every other identifier of the
    record is linked to this one. A record with none of them is a guest purchase and becomes its
    own customer, keyed by the record itself, so guests are never merged into one bucket.
#}
{% macro record_identifier(account_type, account_id, email, phone, guest_key) -%}
    case
        when {{ account_id }} is not null then {{ identifier(account_type, account_id) }}
        when {{ email }} is not null then {{ identifier("'email'", email) }}
        when {{ phone }} is not null then {{ identifier("'phone'", phone) }}
        else {{ identifier("'guest'", guest_key) }}
    end
{%- endmacro %}


{#
    A 64-bit integer for one or more values, used only inside a build to join, group and sort
    by integers instead of long strings: identifiers in the identity graph, visitors of the
    event stream, and customer_id = identifier_id(customer_key) in the customer histories.
    Never published and not stable across engines or versions (customer_key, a keyed md5, is).
    test assert_identifier_ids_are_collision_free guards the 1-in-10^12 chance of a clash.
#}
{% macro identifier_id() -%}
    {{ return(adapter.dispatch('identifier_id', 'segments')(varargs)) }}
{%- endmacro %}

{% macro default__identifier_id(columns) -%}
    xxhash64({{ columns | join(", ") }})
{%- endmacro %}

{% macro duckdb__identifier_id(columns) -%}
    hash({{ columns | join(", ") }})
{%- endmacro %}

{# The SQL type identifier_id returns. #}
{% macro identifier_id_type() -%}
    {{ return(adapter.dispatch('identifier_id_type', 'segments')()) }}
{%- endmacro %}

{% macro default__identifier_id_type() -%}
    bigint
{%- endmacro %}

{% macro duckdb__identifier_id_type() -%}
    ubigint
{%- endmacro %}


{#
    customer_key: a keyed hash of the customer's anchor identifier, md5(secret || ':' ||
    identifier), with the warehouse's secret (stg_meta__customer_key_secret). Without the secret
    a list of emails cannot be hashed into published keys (an unsalted md5 of 'email:' ||
    email could: issue 11). 32 hex digits, stable as long as the secret file is kept
    (pipelines/defs/warehouse/customer_key.py). Cross-database: dbt.hash and dbt.concat.
#}
{% macro customer_key(secret, identifier) -%}
    {{ dbt.hash(dbt.concat([secret, "':'", identifier])) }}
{%- endmacro %}


{#
    The transaction_key of a generic receipt (int_transactions_unioned: source, then the
    folder, since generic sources share one id space per folder, then the receipt id).
#}
{% macro generic_transaction_key(source_name, transaction_id) -%}
    'generic:' || {{ source_name }} || ':' || {{ transaction_id }}
{%- endmacro %}
