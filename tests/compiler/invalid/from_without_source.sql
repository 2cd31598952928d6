{# expect: must be written with source() or ref() #}
{# at: 'tx' #}
SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c
FROM tx
