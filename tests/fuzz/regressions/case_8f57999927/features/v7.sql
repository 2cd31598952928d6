SELECT txn_id,
  ts,
  BOOL_AND(((status IS NULL AND amount > 1) OR (status IS NULL OR q >= 1.25))) FILTER (WHERE n BETWEEN 0 AND 10) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING EXCLUDE TIES) AS f0,
  COUNT(*) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS f1,
  ts + INTERVAL '90 minutes' AS s0
FROM {{ source('tx') }}
WHERE (status < 'b' AND n > 3)