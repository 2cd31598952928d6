SELECT txn_id,
  ts,
  FIRST_VALUE(ts + INTERVAL '90 minutes') OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING EXCLUDE TIES) AS f0,
  (CAST(1.5 AS INTEGER) / 7) AS s0
FROM {{ source('tx') }}