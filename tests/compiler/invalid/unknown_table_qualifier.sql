{# expect: unknown table 'x' #}
{# at: 'x.amount' #}
SELECT user_id, SUM(x.amount) OVER (PARTITION BY user_id ORDER BY ts) AS s
FROM {{ source('tx') }} AS t
