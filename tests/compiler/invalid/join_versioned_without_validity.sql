{# expect: dimension 'tiers' is versioned #}
{# at: 'ON d.merchant_id' #}
SELECT t.user_id, SUM(d.tier) OVER (PARTITION BY t.user_id ORDER BY t.ts) AS s
FROM {{ source('tx') }} AS t
LEFT JOIN {{ source('tiers') }} AS d ON d.merchant_id = t.merchant_id
