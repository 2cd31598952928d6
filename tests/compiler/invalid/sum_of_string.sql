{# expect: SUM() of text #}
{# at: 'status)' #}
SELECT user_id,
       SUM(status) OVER (PARTITION BY user_id ORDER BY ts) AS s
FROM {{ source('tx') }}
