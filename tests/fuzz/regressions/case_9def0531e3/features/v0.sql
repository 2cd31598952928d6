SELECT txn_id,
  ts,
  CAST(LAG(((q * POSITION('b' IN status)) + q), 2, NULL) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) AS TEXT) AS f0,
  status AS s0
FROM {{ source('tx') }}