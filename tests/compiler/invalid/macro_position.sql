{# expect: unknown column 'amnt' #}
{# at: "amnt')" #}
SELECT user_id,
       {{ sum_over('amnt') }} AS s
FROM {{ source('tx') }}
