{{ config(description="Spend velocity per user over trailing 1h / 24h / 7d windows.", tags=["user", "velocity"]) }}

SELECT
    txn_id,
    user_id,
    ts,
    COUNT(*)      OVER w1h  AS txn_count_1h,
    SUM(amount)   OVER w1h  AS amount_sum_1h,
    COUNT(*)      OVER w24h AS txn_count_24h,
    SUM(amount)   OVER w24h AS amount_sum_24h,
    AVG(amount)   OVER w24h AS amount_avg_24h,
    MAX(amount)   OVER w24h AS amount_max_24h,
    COUNT(DISTINCT merchant_id) OVER w24h AS distinct_merchants_24h,
    COUNT(*)      OVER w7d  AS txn_count_7d,
    AVG(amount)   OVER w7d  AS amount_avg_7d,
    COUNT(*) FILTER (WHERE status = 'declined') OVER w24h AS declined_24h,
    amount / NULLIF(AVG(amount) OVER w7d, 0) AS amount_vs_7d_avg
FROM {{ source('transactions') }}
WINDOW
    w1h  AS (PARTITION BY user_id ORDER BY ts {{ trailing('1 hour') }}),
    w24h AS (PARTITION BY user_id ORDER BY ts {{ trailing('24 hours') }}),
    w7d  AS (PARTITION BY user_id ORDER BY ts {{ trailing('7 days') }})
