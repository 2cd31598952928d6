SELECT txn_id,
  ts,
  COUNT(DISTINCT merchant_id) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN CURRENT ROW AND CURRENT ROW) AS f0
FROM {{ source('tx') }}