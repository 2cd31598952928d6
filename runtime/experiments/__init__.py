"""Online evaluation: several model versions served at once (shadow, A/B, Thompson-sampling
bandit), decisions logged with their propensities, delayed feedback joined by request id.

posterior.py — each arm's reward posterior (closed forms); policy.py — choosing an arm;
store.py — the shared, durable state (SQLite); router.py — serving's side; feedback_kafka.py —
feedback from a Kafka topic; report.py — ``skewless experiments report``."""
