{# expect: LAG offset must be a non-negative integer constant #}
{# at: 'n)' #}
SELECT user_id,
  LAG(amount, n) OVER (PARTITION BY user_id ORDER BY ts, txn_id) AS p
FROM {{ source('tx') }}
