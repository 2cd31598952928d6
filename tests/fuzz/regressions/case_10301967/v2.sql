SELECT txn_id,
  ts,
  MIN(status) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW) AS f0
FROM {{ source('tx') }}