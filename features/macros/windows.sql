{# Frame helpers shared by the views. #}
{% macro trailing(length) -%}
RANGE BETWEEN INTERVAL '{{ length }}' PRECEDING AND CURRENT ROW
{%- endmacro %}
