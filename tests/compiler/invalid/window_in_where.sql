{# expect: window functions are not allowed in WHERE #}
{# at: 'COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) >' #}
SELECT user_id, SUM(n) OVER (PARTITION BY user_id ORDER BY ts) AS s
FROM {{ source('tx') }}
WHERE COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) > 1
