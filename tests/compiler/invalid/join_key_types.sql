{# expect: join key types differ #}
{# at: 'm.id = t.n' #}
SELECT t.user_id, COUNT(*) OVER (PARTITION BY t.user_id ORDER BY t.ts) AS c
FROM {{ source('tx') }} AS t
LEFT JOIN {{ source('merchants') }} m ON m.id = t.n
