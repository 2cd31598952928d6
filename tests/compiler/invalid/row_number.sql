{# expect: ROW_NUMBER() is not supported #}
{# at: 'ROW_NUMBER' #}
SELECT user_id,
  ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts, txn_id) AS rn
FROM {{ source('tx') }}
