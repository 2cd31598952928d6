{# expect: Jinja syntax error #}
{# at: "{{ source('tx') }" #}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c
FROM {{ source('tx') }

