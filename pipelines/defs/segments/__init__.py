"""Analyst-defined dynamic segments: YAML definitions → validated → SQL → member lists.

catalogue.py  the columns a condition may test, from the dbt YAML of the marts
definition.py the parsed form (Group / Condition) and the error type
values.py     typing condition values for their column; refusing SQL-looking text
validate.py   validation of one file, with line numbers and every problem at once
dynamic.py    the public API: load_definitions, parse_definition, compile_segment
evaluate.py   writing marts.dynamic_segment_members / marts.dynamic_segments
assets.py     the Dagster asset (definitions validated when the code location loads)
"""
