SELECT txn_id,
  ts,
  LAST_VALUE((3 / -3)) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN 1 PRECEDING AND 1 PRECEDING) AS f0
FROM {{ source('tx') }}