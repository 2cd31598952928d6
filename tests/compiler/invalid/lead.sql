{# expect: LEAD() reads a later event #}
{# at: 'LEAD' #}
SELECT user_id,
    LEAD(amount) OVER (PARTITION BY user_id ORDER BY ts, txn_id) AS next_amount
FROM {{ source('tx') }}
