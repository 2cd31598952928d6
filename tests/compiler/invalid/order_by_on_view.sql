{# expect: ORDER BY on the view is not supported #}
{# at: 'ORDER BY ts;' #}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c
FROM {{ source('tx') }}
ORDER BY ts;
