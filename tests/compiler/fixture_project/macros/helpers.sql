{% macro sum_over(col) -%}
SUM({{ col }}) OVER (PARTITION BY user_id ORDER BY ts)
{%- endmacro %}
