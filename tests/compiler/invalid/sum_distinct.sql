{# expect: SUM(DISTINCT ...) is not supported #}
{# at: 'SUM' #}
SELECT user_id,
  SUM(DISTINCT n) OVER (PARTITION BY user_id ORDER BY ts) AS s
FROM {{ source('tx') }}
