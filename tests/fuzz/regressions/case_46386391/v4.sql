SELECT txn_id,
  ts,
  LAG(date_trunc('hour', ts), 0, NULL) OVER (PARTITION BY user_id ORDER BY ts, txn_id) AS f0,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts, txn_id RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) / 2 AS f1,
  CAST(q AS DOUBLE PRECISION) AS s0
FROM {{ source('tx') }}