{# expect: window 'w2' is not defined #}
{# at: 'w2' #}
SELECT user_id,
  SUM(n) OVER w2 AS s
FROM {{ source('tx') }}
WINDOW w AS (PARTITION BY user_id ORDER BY ts)
