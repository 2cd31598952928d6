SELECT txn_id,
  ts,
  COALESCE(VAR_POP(((amount * 2) / 4)) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP), -1) AS f0,
  CAST(LAG(((POSITION('b' IN status) % 2) % 2), 0, 0) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) AS TEXT) AS f1,
  COUNT(*) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '1 second' PRECEDING AND CURRENT ROW) AS f2
FROM {{ source('tx') }}