SELECT txn_id,
  ts,
  COALESCE(SUM(FLOOR(amount)) FILTER (WHERE q >= 1.25) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '1 second' PRECEDING AND CURRENT ROW), -1) AS f0,
  (amount + n) AS s0
FROM {{ source('tx') }}
WHERE 'x' IN ('ok', 'a_b', NULL)