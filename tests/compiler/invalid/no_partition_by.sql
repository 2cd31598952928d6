{# expect: window without PARTITION BY #}
{# at: 'OVER' #}
SELECT user_id,
  SUM(n) OVER (ORDER BY ts) AS s
FROM {{ source('tx') }}
