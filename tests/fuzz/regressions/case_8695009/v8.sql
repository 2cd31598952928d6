SELECT txn_id,
  ts,
  LAG(ROUND(CEIL(q), 1), 1) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) / 7 AS f0,
  COUNT(DISTINCT LOWER(REPLACE(merchant_id, 'a', 'xy'))) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '30 minutes' PRECEDING AND CURRENT ROW) > 2 AS f1,
  REPLACE(LOWER(status), 'a', 'xy') AS s0
FROM {{ source('tx') }}