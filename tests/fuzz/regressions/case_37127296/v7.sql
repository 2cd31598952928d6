SELECT txn_id,
  ts,
  VAR_POP(((n / -3) + -3)) FILTER (WHERE 'ok' IN ('ok', 'a_b', NULL)) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '1 minute' PRECEDING AND CURRENT ROW) AS f0,
  COUNT(status) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '2 hours' PRECEDING AND CURRENT ROW EXCLUDE TIES) / 2 AS f1
FROM {{ source('tx') }}