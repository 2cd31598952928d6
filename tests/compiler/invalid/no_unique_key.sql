{# expect: declares no unique key #}
{# at: 'ORDER BY' #}
SELECT user_id,
  LAG(v) OVER (PARTITION BY user_id ORDER BY ts, v) AS prev
FROM {{ source('nokey') }}
