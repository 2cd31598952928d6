{# expect: PARTITION BY (merchant_id) differs from (user_id) #}
{# at: 'merchant_id' #}
SELECT user_id,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS u,
  COUNT(*) OVER (PARTITION BY merchant_id ORDER BY ts) AS m
FROM {{ source('tx') }}
