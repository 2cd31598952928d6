{# expect: aggregate SUM() without OVER #}
{# at: 'SUM' #}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c, SUM(amount) AS s
FROM {{ source('tx') }}
