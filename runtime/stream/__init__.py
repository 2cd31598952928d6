"""The stream engine: exact per-row SQL window frames as Bytewax stateful logic."""
