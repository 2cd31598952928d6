"""The model registry: every trained version with its lineage, aliases (champion, challenger),
retrain runs with their reasons. store.py — the SQLite store; lineage.py — reproducing a version's
training set from what it recorded."""
