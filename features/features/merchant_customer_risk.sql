{{ config(description="Features of another entity's features: the merchant's recent customers as seen by user_merchant_mix (keyed by user), re-keyed by merchant — how many of its transactions come from users who have been paying high-risk merchants, and how risky its customers' habits are. Excludes the current moment, like merchant_risk.", tags=["merchant", "composed"]) }}

SELECT
    txn_id,
    merchant_id,
    ts,
    COUNT(*) FILTER (WHERE high_risk_txns_1h >= 2) OVER w1h AS risky_customer_txns_1h,
    AVG(avg_risk_tier_24h) OVER w24h AS customers_avg_risk_tier_24h,
    MAX(resellable_txns_24h) OVER w24h AS customers_max_resellable_24h
FROM {{ ref('user_merchant_mix') }}
WINDOW
    w1h  AS (PARTITION BY merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW EXCLUDE GROUP),
    w24h AS (PARTITION BY merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '24 hours' PRECEDING AND CURRENT ROW EXCLUDE GROUP)
