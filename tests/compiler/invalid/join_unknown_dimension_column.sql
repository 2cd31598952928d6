{# expect: unknown column 'riks' in dimension 'merchants' #}
{# at: 'm.riks' #}
SELECT t.user_id, SUM(m.riks) OVER (PARTITION BY t.user_id ORDER BY t.ts) AS c
FROM {{ source('tx') }} AS t
LEFT JOIN {{ source('merchants') }} AS m ON m.id = t.merchant_id
