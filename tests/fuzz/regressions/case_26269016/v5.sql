SELECT txn_id,
  ts,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 minute' PRECEDING AND CURRENT ROW) AS f0,
  date_trunc('hour', ts) AS s0
FROM {{ source('tx') }}