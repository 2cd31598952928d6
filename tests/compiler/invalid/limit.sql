{# expect: LIMIT is not supported #}
{# at: 'LIMIT' #}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c
FROM {{ source('tx') }}
LIMIT 10
