SELECT txn_id,
  ts,
  BOOL_AND(ABS(q) > 1) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '1 minute' PRECEDING AND CURRENT ROW) AS f0
FROM {{ source('tx') }}
WHERE status LIKE '%e'