{# expect: duplicate output column 'c' #}
{# at: 'c\nFROM' #}
SELECT user_id,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c,
  SUM(n) OVER (PARTITION BY user_id ORDER BY ts) AS c
FROM {{ source('tx') }}
