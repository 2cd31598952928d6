{# expect: invalid config(materialized=...) #}
{# at: "{{ config(materialized='table') }}" #}
{{ config(materialized='table') }}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c
FROM {{ source('tx') }}
