{# expect: JOIN is not supported #}
{# at: 'JOIN' #}
SELECT t.user_id, COUNT(*) OVER (PARTITION BY t.user_id ORDER BY t.ts) AS c
FROM {{ source('tx') }} AS t
JOIN {{ source('nokey') }} AS k ON k.user_id = t.user_id
