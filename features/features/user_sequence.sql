{{ config(description="Order-dependent user features: recency, last amounts, lifetime counts.", tags=["user"]) }}

SELECT
    txn_id,
    user_id,
    ts,
    EXTRACT(EPOCH FROM ts - LAG(ts) OVER seq) AS seconds_since_last,
    LAG(amount, 1, 0.0) OVER seq AS prev_amount,
    LAG(country) OVER seq AS prev_country,
    FIRST_VALUE(amount) OVER (seq ROWS BETWEEN 4 PRECEDING AND CURRENT ROW) AS amount_5_ago,
    AVG(amount) OVER (seq ROWS BETWEEN 5 PRECEDING AND 1 PRECEDING) AS amount_avg_prev5,
    COUNT(*) OVER (seq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS lifetime_txns,
    COUNT(*) OVER (PARTITION BY user_id ORDER BY ts
                   RANGE BETWEEN INTERVAL '{{ var("burst_window") }}' PRECEDING AND CURRENT ROW
                   EXCLUDE CURRENT ROW) AS others_in_burst
FROM {{ source('transactions') }}
WINDOW seq AS (PARTITION BY user_id ORDER BY ts, txn_id)
