{# expect: GROUPS frames are not supported #}
{# at: 'GROUPS' #}
SELECT user_id,
  SUM(amount) OVER (PARTITION BY user_id ORDER BY ts GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s
FROM {{ source('tx') }}
