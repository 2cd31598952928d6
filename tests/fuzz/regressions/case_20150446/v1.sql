SELECT txn_id,
  ts,
  COALESCE(BOOL_AND(status LIKE '%a%') OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '30 minutes' PRECEDING AND CURRENT ROW EXCLUDE GROUP), -1) AS f0,
  ts + INTERVAL '90 minutes' AS s0
FROM {{ source('tx') }}