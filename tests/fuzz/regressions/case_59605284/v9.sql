SELECT txn_id,
  ts,
  BOOL_OR(status ILIKE 'OK%') FILTER (WHERE status >= 'a') OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) * 2 AS f0
FROM {{ source('tx') }}