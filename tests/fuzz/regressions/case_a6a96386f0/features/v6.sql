SELECT txn_id,
  ts,
  LAG(-SIGN(amount), 1) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) * 2 AS f0,
  UPPER(MAX(LOWER(status)) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN 0 PRECEDING AND CURRENT ROW EXCLUDE TIES)) AS f1
FROM {{ source('tx') }}