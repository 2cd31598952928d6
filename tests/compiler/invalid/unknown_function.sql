{# expect: unknown or unsupported function my_udf() #}
{# at: 'my_udf' #}
SELECT user_id,
  my_udf(COUNT(*) OVER (PARTITION BY user_id ORDER BY ts)) AS c
FROM {{ source('tx') }}
