SELECT txn_id,
  ts,
  BOOL_AND(COALESCE(n, 0) BETWEEN 0 AND 10) FILTER (WHERE status IN ('ok', 'a_b', NULL)) OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW EXCLUDE GROUP) * 2 AS f0,
  GREATEST((2.5::float8 / 4), n) AS s0
FROM {{ source('tx') }}