"""The package verifier (`jsonl-assets verify`) and its reading limits."""
