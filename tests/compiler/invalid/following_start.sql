{# expect: frame start is FOLLOWING #}
{# at: 'FOLLOWING' #}
SELECT user_id,
  SUM(amount) OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN 1 FOLLOWING AND 3 FOLLOWING) AS s
FROM {{ source('tx') }}
