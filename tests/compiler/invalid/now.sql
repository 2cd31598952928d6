{# expect: now() is non-deterministic #}
{# at: 'now' #}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c
FROM {{ source('tx') }}
WHERE ts > now() - INTERVAL '1 day'
