SELECT txn_id,
  ts,
  COUNT(*) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '2 hours' PRECEDING AND CURRENT ROW EXCLUDE GROUP) * 1.5 AS f0,
  COUNT(*) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN 9223372036854775807 PRECEDING AND CURRENT ROW EXCLUDE GROUP) * 1.5 AS f1,
  LAG(2.5::float8, 0, NULL) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) * 2 AS f2,
  ts - INTERVAL '1 second' AS s0
FROM {{ source('tx') }}