{{ config(description="Where a user pays: the merchant dimension joined at each event — risk tiers and categories of the last hour and day.", tags=["user", "merchant"]) }}

SELECT
    t.txn_id,
    t.user_id,
    t.merchant_id,
    t.ts,
    m.category AS merchant_category,
    COUNT(*) FILTER (WHERE m.risk_tier >= 3) OVER w1h AS high_risk_txns_1h,
    SUM(t.amount) FILTER (WHERE m.risk_tier >= 3) OVER w24h AS high_risk_amount_24h,
    AVG(m.risk_tier) OVER w24h AS avg_risk_tier_24h,
    COUNT(*) FILTER (WHERE m.category IN ('electronics', 'gift_cards', 'crypto')) OVER w24h AS resellable_txns_24h
FROM {{ source('transactions') }} AS t
LEFT JOIN {{ source('merchants') }} AS m ON m.merchant_id = t.merchant_id
WINDOW
    w1h  AS (PARTITION BY t.user_id ORDER BY t.ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW),
    w24h AS (PARTITION BY t.user_id ORDER BY t.ts RANGE BETWEEN INTERVAL '24 hours' PRECEDING AND CURRENT ROW)
