SELECT txn_id,
  ts,
  COUNT(((n + -1) + -3)) OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS f0
FROM {{ source('tx') }}