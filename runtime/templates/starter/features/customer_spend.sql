{{ config(description="Spend per customer over the last hour and day.") }}

SELECT
    purchase_id,
    customer_id,
    ts,
    COUNT(*)    OVER (PARTITION BY customer_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW) AS purchases_1h,
    SUM(amount) OVER (PARTITION BY customer_id ORDER BY ts RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW) AS spend_1d,
    EXTRACT(EPOCH FROM ts - LAG(ts) OVER (PARTITION BY customer_id ORDER BY ts, purchase_id)) AS seconds_since_last
FROM {{ source('purchases') }}
WHERE amount >= {{ var('min_amount') }}
