{# expect: FIRST_VALUE() needs a total order #}
{# at: 'ORDER BY' #}
SELECT user_id,
  FIRST_VALUE(amount) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS f
FROM {{ source('tx') }}
