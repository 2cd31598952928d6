SELECT txn_id,
  ts,
  BOOL_OR((flag AND q > 1)) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '30 minutes' PRECEDING AND CURRENT ROW) AS f0,
  UPPER(MAX(CONCAT(merchant_id || CAST(flag AS TEXT), flag, n)) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '30 minutes' PRECEDING AND CURRENT ROW)) AS f1
FROM {{ source('tx') }}