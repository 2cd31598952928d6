{# expect: UNION (set operation) is not supported #}
{# at: 'UNION' #}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c FROM {{ source('tx') }}
UNION ALL
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c FROM {{ source('tx') }}
