{# expect: SELECT * is not supported #}
{# at: '*' #}
SELECT *, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c
FROM {{ source('tx') }}
