{# expect: RANGE with an INTERVAL offset needs exactly one ORDER BY column #}
{# at: 'txn_id' #}
SELECT user_id,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts, txn_id RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW) AS c
FROM {{ source('tx') }}
