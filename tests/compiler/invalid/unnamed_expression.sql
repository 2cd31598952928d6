{# expect: every computed column needs a name #}
{# at: 'SUM' #}
SELECT user_id,
  SUM(n) OVER (PARTITION BY user_id ORDER BY ts)
FROM {{ source('tx') }}
