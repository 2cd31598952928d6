SELECT txn_id,
  ts,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '2 hours' PRECEDING AND CURRENT ROW) / 2 AS f0
FROM {{ source('tx') }}
WHERE (n > 3 AND n > 3)