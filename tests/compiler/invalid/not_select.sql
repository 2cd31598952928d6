{# expect: a view must be a SELECT, not DELETE #}
{# at: 'DELETE' #}
DELETE FROM {{ source('tx') }} WHERE amount < 0
