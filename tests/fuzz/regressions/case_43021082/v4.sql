SELECT txn_id,
  ts,
  LAG(ts, 1) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) * 2 AS f0,
  '' AS s0
FROM {{ source('tx') }}