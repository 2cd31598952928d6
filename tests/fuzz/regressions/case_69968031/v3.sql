SELECT txn_id,
  ts,
  SUM(2.5::float8) FILTER (WHERE 'Straße' >= 'a') OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS f0
FROM {{ source('tx') }}