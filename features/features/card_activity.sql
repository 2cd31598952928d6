{{ config(description="Card usage across countries and large amounts.", tags=["card"]) }}

SELECT
    card_id,
    ts,
    COUNT(DISTINCT country) OVER (PARTITION BY card_id ORDER BY ts
                                  RANGE BETWEEN INTERVAL '24 hours' PRECEDING AND CURRENT ROW) AS countries_24h,
    BOOL_OR(amount > {{ var('high_amount') }}) OVER (PARTITION BY card_id ORDER BY ts
                                  RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW) AS high_amount_1h,
    MIN(amount) OVER (PARTITION BY card_id ORDER BY ts
                      RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW EXCLUDE TIES) AS min_amount_1d,
    VAR_POP(amount) FILTER (WHERE status = 'approved')
        OVER (PARTITION BY card_id ORDER BY ts
              RANGE BETWEEN INTERVAL '7 days' PRECEDING AND CURRENT ROW) AS approved_amount_var_7d
FROM {{ source('transactions') }}
