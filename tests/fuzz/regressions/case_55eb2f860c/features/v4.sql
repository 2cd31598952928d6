SELECT txn_id,
  ts,
  COUNT(*) FILTER (WHERE amount > 1) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) > 2 AS f0,
  LAG((CAST(n AS NUMERIC) % 2), 2, 0) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) / 7 AS f1,
  TRIM(BOTH 'x' FROM SUBSTRING('Straße' FROM 1 FOR 2)) AS s0
FROM {{ source('tx') }}