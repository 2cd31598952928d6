SELECT txn_id,
  ts,
  LAG(CONCAT(CONCAT(merchant_id, flag, n), flag, n), 1, NULL) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) AS f0,
  BOOL_OR(ts > '2026-03-01 00:30:00') FILTER (WHERE ts > '2026-03-01 00:30:00') OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '1 minute' PRECEDING AND CURRENT ROW EXCLUDE GROUP) * 2 AS f1
FROM {{ source('tx') }}