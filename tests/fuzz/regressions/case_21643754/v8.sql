SELECT txn_id,
  ts,
  COUNT(DISTINCT merchant_id) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '1 minute' PRECEDING AND CURRENT ROW EXCLUDE TIES) AS f0,
  LAG(amount, 2, NULL) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) AS f1
FROM {{ source('tx') }}