SELECT txn_id,
  ts,
  COUNT(DISTINCT CONCAT(merchant_id, flag, n)) FILTER (WHERE CAST(n AS DOUBLE PRECISION) = 'NaN') OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) / 2 AS f0,
  MAX(date_trunc('hour', ts)) OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING) * 2 AS f1,
  LEFT('Straße' || CAST(flag AS TEXT), -1) AS s0
FROM {{ source('tx') }}