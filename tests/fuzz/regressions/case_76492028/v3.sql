SELECT txn_id,
  ts,
  LAG(CAST(ts AS TEXT), 2, NULL) OVER (PARTITION BY user_id ORDER BY ts, txn_id) AS f0,
  MAX(date_trunc('minute', ts)) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 minute' PRECEDING AND CURRENT ROW EXCLUDE TIES) * 2 AS f1,
  status AS s0
FROM {{ source('tx') }}
WHERE CAST(n AS NUMERIC) > 1