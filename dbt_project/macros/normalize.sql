{#
    Normalisation of the identifiers used to stitch customers across sources. One definition,
    used by every staging model, so "the same email" means the same thing everywhere.
#}

{#
    Unicode clean-up of an identifier before it is compared (issue 11: 'Anna@x.com<TAB>' and
    'anna@x.com' with a zero-width space were three customers): NFC, then every whitespace,
    separator, control and format character removed (tab, NBSP, U+2009, U+200B..U+200D, U+2060,
    U+FEFF, U+00AD: Unicode classes Z, Cc, Cf and \s), then NFKC's compatibility forms that
    map to an ASCII letter or digit folded to it: full-width forms (U+FF01..U+FF5E, all of
    printable ASCII), mathematical alphanumerics, circled letters and digits, super- and
    subscript digits. Letters come back lower-case (callers lower-case anyway). Other
    compatibility characters (ligatures, squared words) are kept: NFKC proper is not available
    in DuckDB SQL, and an email or phone holding one is not worth a slower row path.
    A value of printable ASCII only, the usual case, is returned as it is (one regex test).
    Dispatched: DuckDB's nfc_normalize, lambdas and unicode()/chr() are engine-specific.
#}
{% macro fold_unicode(column) -%}
    {{ return(adapter.dispatch('fold_unicode', 'segments')(column)) }}
{%- endmacro %}

{% macro duckdb__fold_unicode(column) -%}
    (
        select
            case
                when not regexp_matches(raw_text, '[^!-~]') then raw_text
                else array_to_string(
                    list_transform(
                        string_split(
                            regexp_replace(nfc_normalize(raw_text), '[\s\p{Z}\p{Cc}\p{Cf}]', '', 'g'),
                            ''
                        ),
                        lambda ch: case
                            when unicode(ch) < 128 then ch
                            -- full-width ASCII: U+FF01..U+FF5E → U+0021..U+007E
                            when unicode(ch) between 65281 and 65374 then chr(unicode(ch) - 65248)
                            -- mathematical letters U+1D400..U+1D6A3: 13 alphabets of A-Z, a-z
                            when unicode(ch) between 119808 and 120483
                                then chr(97 + (unicode(ch) - 119808) % 52 % 26)
                            -- mathematical digits U+1D7CE..U+1D7FF: 5 sets of 0-9
                            when unicode(ch) between 120782 and 120831
                                then chr(48 + (unicode(ch) - 120782) % 10)
                            -- circled letters U+24B6..U+24E9, digits U+2460..U+2468, U+24EA
                            when unicode(ch) between 9398 and 9449 then chr(97 + (unicode(ch) - 9398) % 26)
                            when unicode(ch) between 9312 and 9320 then chr(49 + unicode(ch) - 9312)
                            when unicode(ch) = 9450 then '0'
                            -- super- and subscript digits
                            when unicode(ch) = 185 then '1'
                            when unicode(ch) in (178, 179) then chr(unicode(ch) - 128)
                            when unicode(ch) = 8304 or unicode(ch) between 8308 and 8313
                                then chr(48 + unicode(ch) - 8304)
                            when unicode(ch) between 8320 and 8329 then chr(48 + unicode(ch) - 8320)
                            else ch
                        end
                    ),
                    ''
                )
            end
        from (select {{ column }} as raw_text) as unicode_parts
    )
{%- endmacro %}

{% macro default__fold_unicode(column) -%}
    regexp_replace({{ column }}, '[\\s\\p{Z}\\p{Cc}\\p{Cf}]', '')
{%- endmacro %}


{#
    Email: Unicode-folded (fold_unicode: no whitespace or invisible characters, full-width and
    other compatibility letters as ASCII) and lower-cased; blank → null.
    'Anna.K@Mail.com ', 'ａｎｎａ.ｋ@mail.com', 'anna.k@mail.com<ZWSP>' → 'anna.k@mail.com'.
#}
{% macro normalize_email(column) -%}
    nullif(lower({{ fold_unicode(column) }}), '')
{%- endmacro %}


{#
    Phone: Unicode-folded first (fold_unicode: '＋４８' is '+48', an invisible character before
    the '+' does not hide it), then digits only, with a leading '+' kept and a leading international prefix '00'
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
                regexp_replace(folded, '[^0-9]', '', 'g') as digits,
                folded as written
            from (select {{ fold_unicode(column) }} as folded) as phone_text
        ) as phone_parts
    )
{%- endmacro %}

{% macro default__normalize_phone(raw_column) -%}
    {%- set column = fold_unicode(raw_column) -%}
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


{#
    True when a free-text value that would become a published label (a product category)
    holds personal data: an email (text@text) or a phone number (7 or more digits, up to two
    separators between digits), looked for after fold_unicode, so invisible or full-width
    characters cannot hide it. Issue 11: a Shopify tag holding the customer's email became
    preferred_category / top_category, a Parquet value, a report label and an export file
    name. Deliberately broad: a category such as '2024-2025 collection' is withheld too.
#}
{% macro holds_personal_data(column) -%}
    coalesce(
        regexp_matches(
            lower({{ fold_unicode(column) }}),
            '[^@]@[^@]|([0-9][ ().+/-]{0,2}){6}[0-9]'
        ),
        false
    )
{%- endmacro %}


{#
    A free-text label (product category): trimmed and lower-cased, blank → null, and null when
    it holds personal data (holds_personal_data); staging also exposes the flag, so test
    assert_free_text_labels_hold_no_personal_data reports each withheld value by file and line.
#}
{% macro label_text(column) -%}
    case
        when {{ holds_personal_data(column) }} then null
        else nullif(lower(trim({{ column }})), '')
    end
{%- endmacro %}
