{# expect: ORDER BY amount is not the timestamp column 'ts' #}
{# at: 'amount' #}
SELECT user_id,
  SUM(n) OVER (PARTITION BY user_id ORDER BY amount) AS s
FROM {{ source('tx') }}
