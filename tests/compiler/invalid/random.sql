{# expect: random() is non-deterministic #}
{# at: 'random' #}
SELECT user_id,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) * random() AS c
FROM {{ source('tx') }}
