SELECT txn_id,
  ts,
  LAG(POSITION('b' IN status), 0) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) / 2 AS f0,
  (CAST(1.5 AS INTEGER) % -3) AS s0
FROM {{ source('tx') }}