{# expect: IGNORE NULLS / RESPECT NULLS are not supported #}
{# at: 'IGNORE' #}
SELECT user_id,
  LAG(amount) IGNORE NULLS OVER (PARTITION BY user_id ORDER BY ts, txn_id) AS p
FROM {{ source('tx') }}
