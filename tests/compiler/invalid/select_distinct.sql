{# expect: SELECT DISTINCT is not supported #}
{# at: 'DISTINCT' #}
SELECT DISTINCT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c
FROM {{ source('tx') }}
