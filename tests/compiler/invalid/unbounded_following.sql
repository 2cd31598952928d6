{# expect: frame end is FOLLOWING #}
{# at: 'FOLLOWING' #}
SELECT user_id,
  SUM(amount) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND UNBOUNDED FOLLOWING) AS s
FROM {{ source('tx') }}
