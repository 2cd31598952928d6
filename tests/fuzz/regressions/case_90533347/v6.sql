SELECT txn_id,
  ts,
  MIN(CAST(q AS DOUBLE PRECISION)) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) * 2 AS f0,
  date_trunc('minute', ts) AS s0
FROM {{ source('tx') }}