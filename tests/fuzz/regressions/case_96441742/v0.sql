SELECT txn_id,
  ts,
  LAG(((-7 % -3) / 4.0), 2, NULL) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) / 7 AS f0,
  VAR_POP(CASE WHEN status IS NULL THEN CAST((CAST(n AS DOUBLE PRECISION) / 4) AS INTEGER) ELSE -1 END) FILTER (WHERE q >= 1.25) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '1 minute' PRECEDING AND CURRENT ROW EXCLUDE GROUP) AS f1,
  (LEAST(2.5::float8, 0) / 4) AS s0
FROM {{ source('tx') }}
WHERE amount = 'NaN'