"""jsonl-assets: raw sources -> deterministic, validated LLM Training Data v1 packages."""
