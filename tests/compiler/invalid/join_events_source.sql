{# expect: JOIN nokey is not a declared dimension #}
{# at: "{{ source('nokey') }}" #}
SELECT t.user_id, COUNT(*) OVER (PARTITION BY t.user_id ORDER BY t.ts) AS c
FROM {{ source('tx') }} AS t
LEFT JOIN {{ source('nokey') }} AS k ON k.user_id = t.user_id
