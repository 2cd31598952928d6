SELECT txn_id,
  ts,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS f0,
  (-2.5::float8 * 2) AS s0
FROM {{ source('tx') }}