{# expect: BOOL_OR() of double precision #}
{# at: 'amount)' #}
SELECT user_id, BOOL_OR(amount) OVER (PARTITION BY user_id ORDER BY ts) AS s
FROM {{ source('tx') }}
