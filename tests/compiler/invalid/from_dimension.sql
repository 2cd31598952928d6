{# expect: a dimension table has no events #}
{# at: "{{ source('merchants') }}" #}
SELECT id, COUNT(*) OVER (PARTITION BY id ORDER BY id) AS c
FROM {{ source('merchants') }}
