{# expect: window function nested inside a window function #}
{# at: 'LAG' #}
SELECT user_id,
  SUM(LAG(amount) OVER (PARTITION BY user_id ORDER BY ts, txn_id)) OVER (PARTITION BY user_id ORDER BY ts) AS s
FROM {{ source('tx') }}
