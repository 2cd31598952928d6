SELECT txn_id,
  ts,
  FIRST_VALUE(date_trunc('minute', ts)) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW) AS f0,
  (NOT status ILIKE 'OK%') IS NOT TRUE AS s0
FROM {{ source('tx') }}