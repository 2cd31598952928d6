SELECT txn_id,
  ts,
  MIN(q) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '1 minute' PRECEDING AND CURRENT ROW EXCLUDE TIES) / 7 AS f0,
  ((flag) IS NOT TRUE OR EXTRACT(EPOCH FROM ts) > 1) AS s0
FROM {{ source('tx') }}