{# expect: environment variable 'SKEWLESS_TEST_UNSET_VAR' is not set #}
{# at: "{{ env_var('SKEWLESS_TEST_UNSET_VAR') }}" #}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c
FROM {{ source('tx') }}
WHERE status = '{{ env_var('SKEWLESS_TEST_UNSET_VAR') }}'
