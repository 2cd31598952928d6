SELECT txn_id,
  ts,
  MIN(ABS(ROUND(q))) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE TIES) AS f0,
  LAG(amount, 2, NULL) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) * 2 AS f1,
  LAG((-7 + 0), 1, NULL) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) AS f2,
  ts + INTERVAL '90 minutes' AS s0
FROM {{ source('tx') }}