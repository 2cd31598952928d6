{# expect: unsupported join condition #}
{# at: 'm.risk > 1' #}
SELECT t.user_id, COUNT(*) OVER (PARTITION BY t.user_id ORDER BY t.ts) AS c
FROM {{ source('tx') }} AS t
LEFT JOIN {{ source('merchants') }} AS m ON m.id = t.merchant_id AND m.risk > 1
