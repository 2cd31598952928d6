SELECT txn_id,
  ts,
  AVG(2.5::float8) FILTER (WHERE merchant_id IN ('ok', 'a_b', NULL)) OVER (PARTITION BY user_id ORDER BY ts, txn_id RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) * 2 AS f0,
  (CASE WHEN flag THEN n ELSE -1 END % -3) AS s0
FROM {{ source('tx') }}
WHERE (n > 3) IS NOT TRUE