{# expect: ORDER BY ts DESC #}
{# at: 'ts DESC' #}
SELECT user_id,
  SUM(n) OVER (PARTITION BY user_id ORDER BY ts DESC) AS s
FROM {{ source('tx') }}
