{# expect: table name 'm' specified more than once #}
{# at: "{{ source('tiers') }} AS m" #}
SELECT t.user_id, COUNT(*) OVER (PARTITION BY t.user_id ORDER BY t.ts) AS c
FROM {{ source('tx') }} AS t
LEFT JOIN {{ source('merchants') }} AS m ON m.id = t.merchant_id
LEFT JOIN {{ source('tiers') }} AS m ON m.merchant_id = t.merchant_id
