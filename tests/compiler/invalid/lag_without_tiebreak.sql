{# expect: LAG() needs a total order #}
{# at: 'ORDER BY' #}
SELECT user_id,
  LAG(amount) OVER (PARTITION BY user_id ORDER BY ts) AS prev
FROM {{ source('tx') }}
