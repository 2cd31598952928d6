SELECT txn_id,
  ts,
  COUNT(CASE WHEN (ts > '2026-03-01 00:30:00') IS DISTINCT FROM (status IS NULL) THEN n ELSE -1 END) OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) > 2 AS f0,
  (amount > 1 OR 1.5 > 1) AS s0
FROM {{ source('tx') }}
WHERE amount = 'NaN'