{# expect: frame starts 1h back, after its end 2h back: it holds nothing #}
{# at: "INTERVAL '1 hour' PRECEDING AND" #}
SELECT user_id,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND INTERVAL '2 hours' PRECEDING) AS c
FROM {{ source('tx') }}
