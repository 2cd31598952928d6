{# expect: RANGE frames must end at CURRENT ROW #}
{# at: 'PRECEDING AND INTERVAL' #}
SELECT user_id,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '2 hours' PRECEDING AND INTERVAL '1 hour' PRECEDING) AS c
FROM {{ source('tx') }}
