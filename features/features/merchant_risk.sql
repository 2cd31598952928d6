{{ config(description="Merchant risk: decline rates and volume, excluding the current moment.", tags=["merchant"]) }}

SELECT
    txn_id,
    merchant_id,
    ts,
    COUNT(*) OVER (PARTITION BY merchant_id ORDER BY ts
                   RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW EXCLUDE GROUP) AS merchant_txns_1h,
    AVG(CASE WHEN status = 'declined' THEN 1.0 ELSE 0.0 END)
        OVER (PARTITION BY merchant_id ORDER BY ts
              RANGE BETWEEN INTERVAL '24 hours' PRECEDING AND CURRENT ROW EXCLUDE GROUP) AS merchant_decline_rate_24h,
    STDDEV_SAMP(amount) OVER (PARTITION BY merchant_id ORDER BY ts
                              RANGE BETWEEN INTERVAL '7 days' PRECEDING AND CURRENT ROW) AS merchant_amount_std_7d,
    COUNT(*) OVER (PARTITION BY merchant_id ORDER BY ts) AS merchant_lifetime_txns
FROM {{ source('transactions') }}
WHERE status IS NOT NULL
