SELECT txn_id,
  ts,
  COUNT(*) FILTER (WHERE q >= 1.25) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 minute' PRECEDING AND CURRENT ROW) > 2 AS f0,
  status ILIKE 'OK%' AS s0
FROM {{ source('tx') }}