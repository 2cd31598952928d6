{# expect: m.category is a column of a joined dimension #}
{# at: 'm.category ORDER' #}
SELECT t.user_id, COUNT(*) OVER (PARTITION BY m.category ORDER BY t.ts) AS c
FROM {{ source('tx') }} AS t
LEFT JOIN {{ source('merchants') }} AS m ON m.id = t.merchant_id
