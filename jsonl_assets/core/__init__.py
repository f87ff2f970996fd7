"""The engine-free core: readers, adapters, rules, stages, store and verifier (no dagster)."""
