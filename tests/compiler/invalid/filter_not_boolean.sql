{# expect: FILTER (WHERE ...) must be boolean #}
{# at: 'amount)' #}
SELECT user_id, COUNT(*) FILTER (WHERE amount) OVER (PARTITION BY user_id ORDER BY ts) AS s
FROM {{ source('tx') }}
