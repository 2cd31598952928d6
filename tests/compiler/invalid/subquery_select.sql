{# expect: subquery in the select list #}
{# at: 'SELECT MAX' #}
SELECT user_id,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c,
  (SELECT MAX(amount) FROM {{ source('tx') }}) AS m
FROM {{ source('tx') }}
