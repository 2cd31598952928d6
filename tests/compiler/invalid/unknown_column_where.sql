{# expect: unknown column 'stat' #}
{# at: 'stat ' #}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c
FROM {{ source('tx') }}
WHERE stat = 'ok'
