{# expect: GROUP BY is not supported #}
{# at: 'GROUP' #}
SELECT user_id, SUM(amount) AS s
FROM {{ source('tx') }}
GROUP BY user_id
