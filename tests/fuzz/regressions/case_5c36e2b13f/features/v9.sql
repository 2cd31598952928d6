SELECT txn_id,
  ts,
  COUNT(CAST((CAST(n AS DOUBLE PRECISION) / 4) AS INTEGER)) FILTER (WHERE CAST(n AS NUMERIC) > 1) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN 9223372036854775807 PRECEDING AND CURRENT ROW) > 2 AS f0,
  COALESCE(LAG(date_trunc('hour', ts), 1, NULL) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id), -1) AS f1
FROM {{ source('tx') }}