{# expect: m.category is not a key column of dimension 'merchants' #}
{# at: 'm.category =' #}
SELECT t.user_id, COUNT(*) OVER (PARTITION BY t.user_id ORDER BY t.ts) AS c
FROM {{ source('tx') }} AS t
LEFT JOIN {{ source('merchants') }} AS m ON m.category = t.status
