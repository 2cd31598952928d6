SELECT txn_id,
  ts,
  COUNT(DISTINCT REPLACE(SUBSTRING(merchant_id FROM -1 FOR 2), 'a', 'xy')) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING EXCLUDE GROUP) > 2 AS f0
FROM {{ source('tx') }}