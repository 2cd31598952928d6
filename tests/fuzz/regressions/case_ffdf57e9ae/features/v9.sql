SELECT txn_id,
  ts,
  COUNT(*) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) / 2 AS f0,
  POSITION('b' IN status) AS s0
FROM {{ source('tx') }}
WHERE amount > 1