{# expect: SQL syntax error #}
{# at: 'FROMM' #}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c
FROMM {{ source('tx') }} x y z
