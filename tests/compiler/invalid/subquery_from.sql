{# expect: subquery in FROM #}
{# at: 'SELECT *' #}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c
FROM (SELECT * FROM {{ source('tx') }}) AS t
