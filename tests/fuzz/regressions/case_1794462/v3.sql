SELECT txn_id,
  ts,
  LAG(((q * n) * n), 0) OVER (PARTITION BY user_id ORDER BY ts, txn_id) / 7 AS f0,
  CAST(COUNT(*) OVER (PARTITION BY user_id ORDER BY ts, txn_id RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS TEXT) AS f1
FROM {{ source('tx') }}
WHERE (flag OR flag)