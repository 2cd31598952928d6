SELECT txn_id,
  ts,
  LAG(q, 1, NULL) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) AS f0
FROM {{ source('tx') }}
WHERE 1.5 > 1