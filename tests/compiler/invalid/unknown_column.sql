{# expect: unknown column 'amont' #}
{# at: 'amont' #}
SELECT user_id, SUM(amont) OVER (PARTITION BY user_id ORDER BY ts) AS s
FROM {{ source('tx') }}
