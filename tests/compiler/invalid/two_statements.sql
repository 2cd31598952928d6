{# expect: exactly one statement #}
{# at: 'SELECT 2' #}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c FROM {{ source('tx') }};
SELECT 2
