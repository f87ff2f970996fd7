"""The shards a package's verification may trust by sha256 instead of reading them again.

The validated stage judged every record the shards hold, against the toolsets its partition
knew: the config's and those the partition's adapters derived. A record naming a toolset it
did not know is rejected (D8), but one that names none inherits `defaults.toolset_id`, and
when that is a toolset another partition derives (`tools-<12 hex>`), the record's calls were
not checked against it (E2, E9). Such a partition's shards are not trusted: the verification
reads them record by record, so a call to a tool the toolset lacks refuses the package.
"""

from __future__ import annotations

from collections.abc import Iterable

from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.manifest_builder import PartitionShards


def trusted_shards(cfg: PipelineConfig, partitions: Iterable[PartitionShards]) -> dict[str, str]:
    """Shard path -> sha256 of the shards whose records were judged with every toolset they
    can reference known (see the module's doc)."""
    default = (cfg.defaults or {}).get("toolset_id")
    if type(default) is not str or default in {t["id"] for t in cfg.toolsets}:
        default = None  # every partition knows it (or there is none)
    trusted: dict[str, str] = {}
    for p in partitions:
        if default is not None and default not in {t["id"] for t in p.toolsets}:
            continue  # its records inheriting the default were not checked against it
        trusted.update((s["path"], s["sha256"]) for s in p.shards)
    return trusted


def untrusted_partitions(cfg: PipelineConfig, partitions: Iterable[PartitionShards]) -> list[str]:
    """The keys of the partitions with shards `trusted_shards` leaves out."""
    trusted = trusted_shards(cfg, partitions)
    return [p.key for p in partitions if any(s["path"] not in trusted for s in p.shards)]
