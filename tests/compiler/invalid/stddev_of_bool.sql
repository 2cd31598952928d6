{# expect: STDDEV_SAMP() of boolean #}
{# at: 'flag)' #}
SELECT user_id, STDDEV(flag) OVER (PARTITION BY user_id ORDER BY ts) AS s
FROM {{ source('tx') }}
