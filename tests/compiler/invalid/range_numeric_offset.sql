{# expect: RANGE offset on a timestamp must be an INTERVAL #}
{# at: '5 PRECEDING' #}
SELECT user_id,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN 5 PRECEDING AND CURRENT ROW) AS c
FROM {{ source('tx') }}
