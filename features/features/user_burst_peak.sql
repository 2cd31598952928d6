{{ config(description="Features of features: how this hour's activity compares with the user's own recent peaks (over user_velocity's per-event rows).", tags=["user", "velocity"]) }}

SELECT
    txn_id,
    user_id,
    ts,
    MAX(txn_count_1h) OVER (PARTITION BY user_id ORDER BY ts
                            RANGE BETWEEN INTERVAL '24 hours' PRECEDING AND CURRENT ROW) AS peak_txns_1h_24h,
    txn_count_1h - AVG(txn_count_1h) OVER (PARTITION BY user_id ORDER BY ts
                                           RANGE BETWEEN INTERVAL '7 days' PRECEDING AND INTERVAL '1 hour' PRECEDING)
        AS txns_1h_vs_usual
FROM {{ ref('user_velocity') }}
