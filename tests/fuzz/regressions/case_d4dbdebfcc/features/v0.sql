SELECT txn_id,
  ts,
  COUNT('') FILTER (WHERE status IS NULL) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN CURRENT ROW AND CURRENT ROW) * 1.5 AS f0,
  date_trunc('minute', ts) AS s0
FROM {{ source('tx') }}