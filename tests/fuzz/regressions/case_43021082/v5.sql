SELECT txn_id,
  ts,
  LAG(((3 * 2) * 2), 2, 0) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id) AS f0
FROM {{ source('tx') }}