"""Request-time features (issue 13): the example's fraud model against the same model reading its
user and card views *with the scored transaction* (``at: request_event``, semantics §1.3) plus an
on-demand feature (this amount against the user's 7-day average) — one run, the same generated
events and labels, the same LightGBM settings; validation on the latest labels (time split).

Usage: python bench/request_time.py [--events 60000] [--days 21]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _example import example_parser, example_project  # noqa: E402

NOW = """models:
  - name: fraud_now
    description: The fraud model with features computed with the scored transaction itself.
    label: {source: labels, column: is_fraud}
    request_features: [amount, country]
    categorical: [country]
    on_demand:
      amount_vs_7d: "amount / NULLIF(user_velocity__amount_avg_7d, 0)"
    features:
      - view: user_velocity
        at: request_event
      - view: user_sequence
        columns: [seconds_since_last, prev_amount, amount_avg_prev5, lifetime_txns, others_in_burst]
      - view: merchant_risk
      - view: card_activity
        join: {card_id: card_id}
        at: request_event
    objective: binary
    params: {learning_rate: 0.05, num_leaves: 31, min_data_in_leaf: 50, feature_fraction: 0.9}
    num_boost_round: 400
    early_stopping_rounds: 40
"""


def main() -> None:
    parser = example_parser(60_000, 21)
    args = parser.parse_args()
    import skewless

    with tempfile.TemporaryDirectory() as tmp:
        root = example_project(tmp, args.events, args.days)
        (root / "models" / "now.yml").write_text(NOW)
        project = skewless.Project(root)
        rows = {}
        for model in ("fraud", "fraud_now"):
            result = project.train(model)
            rows[model] = result.metrics
        print(f"events: {args.events:,} over {args.days} days; validation = the latest labels")
        for model, m in rows.items():
            va = m.get("validation", m)
            print(f"{model:<10} AUC {va.get('auc', float('nan')):.4f}  PR-AUC {va.get('pr_auc', float('nan')):.4f}  "
                  f"log-loss {va.get('log_loss', float('nan')):.4f}")


if __name__ == "__main__":
    main()
