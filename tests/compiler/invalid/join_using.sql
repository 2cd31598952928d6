{# expect: JOIN ... USING is not supported #}
{# at: 'JOIN' #}
SELECT t.user_id, COUNT(*) OVER (PARTITION BY t.user_id ORDER BY t.ts) AS c
FROM {{ source('tx') }} AS t
LEFT JOIN {{ source('tiers') }} USING (merchant_id)
