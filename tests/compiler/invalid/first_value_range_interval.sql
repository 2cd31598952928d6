{# expect: FIRST_VALUE() over a RANGE INTERVAL frame has no total order #}
{# at: 'FIRST_VALUE' #}
SELECT user_id,
  FIRST_VALUE(amount) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW) AS f
FROM {{ source('tx') }}
