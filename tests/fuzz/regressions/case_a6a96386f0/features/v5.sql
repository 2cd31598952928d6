SELECT txn_id,
  ts,
  FIRST_VALUE(COALESCE((-7 * 2), 0)) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN 0 PRECEDING AND 1 PRECEDING) > 2 AS f0,
  date_trunc('hour', ts) AS s0
FROM {{ source('tx') }}