{# expect: window without ORDER BY covers the whole partition #}
{# at: 'OVER' #}
SELECT user_id,
  SUM(n) OVER (PARTITION BY user_id) AS s
FROM {{ source('tx') }}
