{# expect: LAST_VALUE() needs a total order #}
{# at: 'ORDER BY' #}
SELECT user_id,
  LAST_VALUE(amount) OVER (PARTITION BY user_id ORDER BY ts) AS l
FROM {{ source('tx') }}
