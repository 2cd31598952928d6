SELECT txn_id,
  ts,
  MAX(CAST(q AS TEXT)) FILTER (WHERE 'x' IN ('ok', 'a_b', NULL)) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW EXCLUDE TIES) || '|' AS f0
FROM {{ source('tx') }}