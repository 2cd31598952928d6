{# expect: AVG() of text #}
{# at: 'merchant_id)' #}
SELECT user_id, AVG(merchant_id) OVER (PARTITION BY user_id ORDER BY ts) AS s
FROM {{ source('tx') }}
