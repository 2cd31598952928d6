SELECT txn_id,
  ts,
  VAR_POP(q) FILTER (WHERE q >= 1.25) OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS f0
FROM {{ source('tx') }}