SELECT txn_id,
  ts,
  SUM((CAST(n AS NUMERIC) * n)) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS f0,
  CONCAT(REPLACE(status, 'a', 'xy'), flag, n) AS s0
FROM {{ source('tx') }}