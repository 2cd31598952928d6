{# expect: frame end is FOLLOWING #}
{# at: 'FOLLOWING' #}
SELECT user_id,
  SUM(amount) OVER (PARTITION BY user_id ORDER BY ts, txn_id
                    ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS s
FROM {{ source('tx') }}
