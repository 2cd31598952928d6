SELECT txn_id,
  ts,
  BOOL_AND(amount > 1) FILTER (WHERE 'x' IN ('ok', 'a_b', NULL)) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE TIES) AS f0
FROM {{ source('tx') }}