SELECT txn_id,
  ts,
  CAST(STDDEV_SAMP((ABS(n) + 0)) FILTER (WHERE status >= 'a') OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id ROWS BETWEEN CURRENT ROW AND CURRENT ROW) AS INTEGER) AS f0,
  LEFT('b' || CAST(flag AS TEXT), 0) AS s0
FROM {{ source('tx') }}