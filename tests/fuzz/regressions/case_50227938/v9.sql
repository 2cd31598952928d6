SELECT txn_id,
  ts,
  BOOL_OR(q >= 1.25) FILTER (WHERE 'ok' >= 'a') OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '1 second' PRECEDING AND CURRENT ROW EXCLUDE TIES) AS f0
FROM {{ source('tx') }}
WHERE 2.5::float8 = 'NaN'