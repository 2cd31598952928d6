SELECT txn_id,
  ts,
  MIN(date_trunc('minute', ts)) FILTER (WHERE amount = 'NaN') OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '2 hours' PRECEDING AND CURRENT ROW EXCLUDE TIES) AS f0,
  AVG(CEIL(LEAST(2.5::float8, 0))) FILTER (WHERE POSITION('b' IN status) BETWEEN 0 AND 10) OVER (PARTITION BY user_id, merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '1 minute' PRECEDING AND CURRENT ROW) AS f1,
  UPPER(MIN(merchant_id) FILTER (WHERE status >= 'a') OVER (PARTITION BY user_id, merchant_id ORDER BY ts, txn_id RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) AS f2,
  ts > '2026-03-01 00:30:00' AS s0
FROM {{ source('tx') }}