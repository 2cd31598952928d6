SELECT txn_id,
  ts,
  UPPER(LAG(REPLACE(CONCAT(status, flag, n), 'a', 'xy'), 0) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id)) AS f0
FROM {{ source('tx') }}
WHERE status IN ('ok', 'a_b', NULL)