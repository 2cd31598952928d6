SELECT txn_id,
  ts,
  BOOL_AND(flag) FILTER (WHERE flag) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '1 second' PRECEDING AND CURRENT ROW) AS f0,
  ((n % -3) + 2) AS s0
FROM {{ source('tx') }}
WHERE (flag OR q >= 1.25)