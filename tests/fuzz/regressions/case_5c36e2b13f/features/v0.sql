SELECT txn_id,
  ts,
  COUNT(EXTRACT(EPOCH FROM ts)) FILTER (WHERE status LIKE '_k') OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS f0,
  (CAST(n AS DOUBLE PRECISION) + n) AS s0
FROM {{ source('tx') }}