{# expect: FILTER is not allowed on LAG() #}
{# at: 'FILTER' #}
SELECT user_id,
  LAG(amount) FILTER (WHERE flag) OVER (PARTITION BY user_id ORDER BY ts, txn_id) AS p
FROM {{ source('tx') }}
