SELECT txn_id,
  ts,
  AVG(CEIL(CEIL(amount))) FILTER (WHERE status IN ('ok', 'a_b', NULL)) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW) * 2 AS f0
FROM {{ source('tx') }}