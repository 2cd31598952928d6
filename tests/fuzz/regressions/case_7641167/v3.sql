SELECT txn_id,
  ts,
  COUNT(EXTRACT(EPOCH FROM ts)) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN CURRENT ROW AND CURRENT ROW) * 1.5 AS f0
FROM {{ source('tx') }}