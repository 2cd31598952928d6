SELECT txn_id,
  ts,
  CAST(LAST_VALUE(q) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN CURRENT ROW AND CURRENT ROW EXCLUDE TIES) AS INTEGER) AS f0,
  merchant_id AS s0
FROM {{ source('tx') }}