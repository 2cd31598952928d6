SELECT txn_id,
  ts,
  COUNT((n + 0)) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 second' PRECEDING AND CURRENT ROW) AS f0
FROM {{ source('tx') }}
WHERE flag