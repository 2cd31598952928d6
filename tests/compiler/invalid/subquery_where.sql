{# expect: subquery in WHERE #}
{# at: 'SELECT MIN' #}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c
FROM {{ source('tx') }}
WHERE amount > (SELECT MIN(amount) FROM {{ source('tx') }})
