{# expect: column reference 'merchant_id' is ambiguous #}
{# at: 'merchant_id) OVER' #}
SELECT t.user_id, COUNT(merchant_id) OVER (PARTITION BY t.user_id ORDER BY t.ts) AS c
FROM {{ source('tx') }} AS t
LEFT JOIN {{ source('tiers') }} AS d ON d.merchant_id = t.merchant_id AND t.ts >= d.valid_from AND (t.ts < d.valid_to OR d.valid_to IS NULL)
