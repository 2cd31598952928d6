{# expect: unknown view 'nope' in ref() #}
{# at: "{{ ref('nope') }}" #}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS s
FROM {{ ref('nope') }}
