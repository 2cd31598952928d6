SELECT txn_id,
  ts,
  COUNT(ABS(ABS(POSITION('b' IN status)))) OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS f0
FROM {{ source('tx') }}