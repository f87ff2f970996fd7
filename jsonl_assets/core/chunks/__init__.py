"""A partition's work cut into chunks: the plan (plan.py), the chunk worker that reads,
adapts and validates one chunk into the work dir (chunk_worker.py), and the deterministic
merge that dedups and packs the chunks' lines into staged shards (merge.py)."""
