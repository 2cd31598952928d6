SELECT txn_id,
  ts,
  COALESCE(FIRST_VALUE(date_trunc('hour', ts)) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP), -1) AS f0
FROM {{ source('tx') }}