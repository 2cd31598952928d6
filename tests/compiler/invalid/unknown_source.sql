{# expect: unknown source 'payments' #}
{# at: "{{ source('payments') }}" #}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS s
FROM {{ source('payments') }}
