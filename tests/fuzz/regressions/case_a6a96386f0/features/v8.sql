SELECT txn_id,
  ts,
  COUNT(((-7 + 2) / 2)) FILTER (WHERE (flag OR ts > '2026-03-01 00:30:00')) OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN CURRENT ROW AND CURRENT ROW) > 2 AS f0
FROM {{ source('tx') }}