SELECT txn_id,
  ts,
  MAX(2.5::float8) FILTER (WHERE (flag) IS NOT TRUE) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN 1 PRECEDING AND 1 PRECEDING) AS f0,
  date_trunc('hour', ts) AS s0
FROM {{ source('tx') }}