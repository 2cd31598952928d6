SELECT txn_id,
  ts,
  BOOL_OR(LOWER(status) IN ('ok', 'a_b', NULL)) FILTER (WHERE (status IS NULL AND flag)) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '2 hours' PRECEDING AND CURRENT ROW EXCLUDE TIES) * 2 AS f0,
  ts AS s0
FROM {{ source('tx') }}