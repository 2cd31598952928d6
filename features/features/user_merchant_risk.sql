{{ config(description="Another entity's features at each event: the risk of the merchants this user paid, as it was at each payment (merchant_risk's row of the same transaction, joined by txn_id).", tags=["user", "merchant", "composed"]) }}

SELECT
    t.txn_id,
    t.user_id,
    t.ts,
    AVG(r.merchant_decline_rate_24h) OVER w24h AS paid_merchants_decline_rate_24h,
    MAX(r.merchant_txns_1h) OVER w24h AS busiest_paid_merchant_txns_1h,
    COUNT(*) FILTER (WHERE r.merchant_lifetime_txns <= 3) OVER w7d AS new_merchant_txns_7d
FROM {{ source('transactions') }} AS t
LEFT JOIN {{ ref('merchant_risk') }} AS r ON r.txn_id = t.txn_id
WINDOW
    w24h AS (PARTITION BY t.user_id ORDER BY t.ts RANGE BETWEEN INTERVAL '24 hours' PRECEDING AND CURRENT ROW),
    w7d  AS (PARTITION BY t.user_id ORDER BY t.ts RANGE BETWEEN INTERVAL '7 days' PRECEDING AND CURRENT ROW)
