{# expect: calendar unit 'years' #}
{# at: 'INTERVAL' #}
SELECT user_id,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '2 years' PRECEDING AND CURRENT ROW) AS c
FROM {{ source('tx') }}
