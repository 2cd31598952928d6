SELECT txn_id,
  ts,
  COUNT('ok') FILTER (WHERE amount = 'NaN') OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '30 minutes' PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW) * 1.5 AS f0,
  BOOL_AND(status < 'b') FILTER (WHERE status < 'b') OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '30 minutes' PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW) * 2 AS f1,
  LAG(CAST(ts AS TEXT), 0) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) || '|' AS f2,
  COALESCE(3, 0) AS s0
FROM {{ source('tx') }}