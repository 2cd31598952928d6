{# expect: frame starts at 1 PRECEDING, after its end at 3 PRECEDING #}
{# at: '1 PRECEDING' #}
SELECT user_id,
  SUM(amount) OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN 1 PRECEDING AND 3 PRECEDING) AS s
FROM {{ source('tx') }}
