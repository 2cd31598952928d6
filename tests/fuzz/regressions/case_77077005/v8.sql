SELECT txn_id,
  ts,
  LAG(ts, 0, NULL) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) AS f0,
  CAST(LAST_VALUE(1.5) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN CURRENT ROW AND CURRENT ROW EXCLUDE CURRENT ROW) AS INTEGER) AS f1,
  SUM(-7) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW EXCLUDE GROUP) / 7 AS f2,
  NOT (status < 'b' OR status IS NULL) AS s0
FROM {{ source('tx') }}
WHERE amount > 1