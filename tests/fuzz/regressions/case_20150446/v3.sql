SELECT txn_id,
  ts,
  CAST(LAG(COALESCE((n * 2), 0), 1, 0) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) AS TEXT) AS f0,
  CAST(q AS DOUBLE PRECISION) AS s0
FROM {{ source('tx') }}