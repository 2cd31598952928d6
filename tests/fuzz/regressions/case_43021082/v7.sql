SELECT txn_id,
  ts,
  COALESCE(LAG(date_trunc('hour', ts), 0) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id), -1) AS f0,
  COALESCE(BOOL_OR(flag) FILTER (WHERE status IS NULL) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE TIES), -1) AS f1
FROM {{ source('tx') }}
WHERE status < 'b'