SELECT txn_id,
  ts,
  LENGTH(MIN(CAST(amount AS TEXT)) FILTER (WHERE n > 3) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW)) AS f0
FROM {{ source('tx') }}