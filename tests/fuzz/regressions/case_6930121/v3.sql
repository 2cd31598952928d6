SELECT txn_id,
  ts,
  LAG(REPLACE(CAST(ts AS TEXT), 'a', 'xy'), 2) OVER (PARTITION BY user_id ORDER BY ts, txn_id) || '|' AS f0,
  LAG(LENGTH(status), 0) OVER (PARTITION BY user_id ORDER BY ts, txn_id) > 2 AS f1
FROM {{ source('tx') }}