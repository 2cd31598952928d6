SELECT txn_id,
  ts,
  LAG((q / 3), 0) OVER (PARTITION BY user_id ORDER BY ts, txn_id) AS f0,
  COUNT(((n + 3) + 0)) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 second' PRECEDING AND CURRENT ROW) AS f1
FROM {{ source('tx') }}
WHERE flag