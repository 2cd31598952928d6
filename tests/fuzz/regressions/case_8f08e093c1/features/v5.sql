SELECT txn_id,
  ts,
  SUM(((q + q) * (LENGTH(status) / 7))) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 minute' PRECEDING AND CURRENT ROW) AS f0
FROM {{ source('tx') }}