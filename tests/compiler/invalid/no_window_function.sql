{# expect: the view has no window function #}
{# at: 'user_id' #}
SELECT user_id, amount * 2 AS double_amount
FROM {{ source('tx') }}
