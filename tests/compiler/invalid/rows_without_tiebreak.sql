{# expect: a ROWS frame needs a total order #}
{# at: 'ORDER BY' #}
SELECT user_id,
  SUM(amount) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS s
FROM {{ source('tx') }}
