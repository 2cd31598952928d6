SELECT txn_id,
  ts,
  COUNT((n + 1)) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '30 minutes' PRECEDING AND CURRENT ROW) * 1.5 AS f0,
  status AS s0
FROM {{ source('tx') }}
WHERE n > 3