{# expect: var 'no_such_var' is not defined #}
{# at: "{{ var('no_such_var') }}" #}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c
FROM {{ source('tx') }}
WHERE amount > {{ var('no_such_var') }}
