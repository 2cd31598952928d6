{# expect: calendar unit 'month' #}
{# at: 'INTERVAL' #}
SELECT user_id,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 month' PRECEDING AND CURRENT ROW) AS c
FROM {{ source('tx') }}
