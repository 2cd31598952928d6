{# expect: WHERE must be a boolean #}
{# at: 'amount + 1' #}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS s
FROM {{ source('tx') }}
WHERE amount + 1
