"""The closed vocabularies of LLM Training Data v1 (spec sections 2-6)."""

from typing import Final

SCHEMA_VERSION: Final = "llm-training-data/v1"

OBJECTIVES: Final = ("sft", "preference", "rft", "cpt")
SPLITS: Final = ("train", "validation", "test")
COMPRESSIONS: Final = ("none", "gzip", "zstd")
ROLES: Final = frozenset({"system", "user", "assistant", "tool", "document"})
MEDIA_PART_TYPES: Final = frozenset({"image", "audio", "video", "document"})
PART_TYPES: Final = frozenset(
    {"text", "reasoning", "json", "tool_call", "tool_result"} | MEDIA_PART_TYPES
)

# Shard file extension per compression (spec section 1 convention).
SHARD_EXTENSIONS: Final = {"none": ".jsonl", "gzip": ".jsonl.gz", "zstd": ".jsonl.zst"}
