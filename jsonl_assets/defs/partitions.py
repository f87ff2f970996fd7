"""Every stage asset is partitioned by objective × split: twelve partitions."""

import dagster as dg

from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS

OBJECTIVE_DIM = "objective"
SPLIT_DIM = "split"

# Dimension names sort, so keys read `objective|split`, e.g. "sft|train".
PARTITIONS = dg.MultiPartitionsDefinition(
    {
        OBJECTIVE_DIM: dg.StaticPartitionsDefinition(list(OBJECTIVES)),
        SPLIT_DIM: dg.StaticPartitionsDefinition(list(SPLITS)),
    }
)


def partition_key(objective: str, split: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({OBJECTIVE_DIM: objective, SPLIT_DIM: split})


def all_partition_keys() -> list[str]:
    """Keys in objective-then-split order (the order builds and summaries use)."""
    return [str(partition_key(o, s)) for o in OBJECTIVES for s in SPLITS]


def split_key(key: str | dg.MultiPartitionKey) -> tuple[str, str]:
    """(objective, split) of a partition key, read by dimension name, not by position."""
    mpk = (
        key if isinstance(key, dg.MultiPartitionKey) else PARTITIONS.get_partition_key_from_str(key)
    )
    dims = mpk.keys_by_dimension
    return dims[OBJECTIVE_DIM], dims[SPLIT_DIM]
