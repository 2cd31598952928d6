SELECT txn_id,
  ts,
  LENGTH(FIRST_VALUE('b') OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id RANGE BETWEEN CURRENT ROW AND CURRENT ROW EXCLUDE TIES)) AS f0,
  ((1.5 + q) % 2) AS s0
FROM {{ source('tx') }}