"""metadata.json from the config and the shard lists of the built partitions (a pure function).

Key order is fixed by construction and the document holds no clock or host value, so the same
shards always give the same bytes. `created_at` appears only when the config sets it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from jsonl_assets.core.adapters.toolsets import TOOL_EXTRAS
from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.rules.rate_checks import RateLimits
from jsonl_assets.core.rules.reject_reasons import RATES, THRESHOLD_KEYS
from jsonl_assets.core.rules.spec_vocabulary import (
    OBJECTIVES,
    SCHEMA_VERSION,
    SHARD_EXTENSIONS,
    SPLITS,
)

GENERATOR: Final = "jsonl-assets/0.1.0"
EXTENSION_KEY: Final = "x-jsonl-assets"


@dataclass(frozen=True)
class PartitionShards:
    """What the shards stage recorded for one partition."""

    objective: str
    split: str
    shards: Sequence[dict[str, Any]]
    toolsets: Sequence[dict[str, Any]] = ()
    files: Sequence[dict[str, Any]] = ()
    accounting: dict[str, Any] = field(default_factory=dict)
    quarantine: dict[str, Any] = field(default_factory=dict)  # its published quarantine
    statistics: dict[str, Any] = field(default_factory=dict)  # the report's, of its records

    @property
    def key(self) -> str:
        return f"{self.objective}|{self.split}"

    @classmethod
    def from_details(cls, objective: str, split: str, details: Any) -> PartitionShards:
        """From the shards stage's typed result (stage_report.ShardsDetails)."""
        return cls(
            objective=objective,
            split=split,
            shards=details.shards,
            toolsets=details.toolsets,
            files=details.files,
            accounting=details.accounting,
            quarantine=details.quarantine,
            statistics=details.statistics,
        )

    @classmethod
    def from_report(cls, objective: str, split: str, report: Mapping[str, Any]) -> PartitionShards:
        """From what the shards stage reports (its report's `extra`, or the `partition_report`
        materialisation metadata, which carries the same keys)."""
        return cls(
            objective=objective,
            split=split,
            shards=report["shards"],
            toolsets=report["toolsets"],
            files=report["files"],
            accounting=report["accounting"],
            quarantine=report.get("quarantine") or {},
        )


def _dataset(cfg: PipelineConfig) -> dict[str, Any]:
    """The config's `dataset`, every key it sets (an empty `tags` list too) and no other."""
    d = cfg.dataset
    out: dict[str, Any] = {"name": d.name}
    if d.dataset_id:
        out["dataset_id"] = d.dataset_id
    out["description"] = d.description
    if d.created_at:
        out["created_at"] = d.created_at
    for key in ("license", "contact"):
        if value := getattr(d, key):
            out[key] = value
    if d.tags is not None:
        out["tags"] = list(d.tags)
    return out


def _canonical(value: dict[str, Any]) -> dict[str, Any]:
    """Keys sorted at every level: the bytes must not depend on how the toolset travelled
    (Dagster's JSON metadata sorts keys, the work files keep the adapter's order)."""
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))


def _order(p: PartitionShards) -> tuple[int, int]:
    return OBJECTIVES.index(p.objective), SPLITS.index(p.split)


def build_manifest(cfg: PipelineConfig, partitions: Sequence[PartitionShards]) -> dict[str, Any]:
    """The metadata.json document. Every built partition's source files are in the extension,
    and the accounting of every built partition a source feeds, shards or not: one whose every
    input was quarantined, and one whose sources held no record (an empty file: its file is
    charged to it, read 0), as the build's summary lists them (_accounted). Partitions without
    shards get no file entry (spec C8: an entry needs at least one shard)."""
    built = sorted(partitions, key=_order)
    toolsets: dict[str, dict[str, Any]] = {t["id"]: _canonical(t) for t in cfg.toolsets}
    tool_extras: dict[str, Any] = {}
    for p in built:
        for toolset in p.toolsets if p.shards else ():  # toolsets of records in the package
            if toolset["id"] not in toolsets:
                # What the source's tools said beyond the spec's tool keys: in `extensions`.
                spec = {k: v for k, v in toolset.items() if k != TOOL_EXTRAS}
                toolsets[toolset["id"]] = _canonical(spec)
                if TOOL_EXTRAS in toolset:
                    tool_extras[toolset["id"]] = _canonical(toolset[TOOL_EXTRAS])
    doc: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "dataset": _dataset(cfg)}
    if cfg.defaults is not None:  # `defaults: {}` is copied as set
        doc["defaults"] = dict(cfg.defaults)
    if toolsets or _sets_toolsets(cfg):
        doc["toolsets"] = [toolsets[k] for k in sorted(toolsets)]
    extension = _extension(cfg, built)
    if tool_extras:
        extension["tool_extras"] = {k: tool_extras[k] for k in sorted(tool_extras)}
    doc["extensions"] = {EXTENSION_KEY: extension}
    doc["files"] = [_file_entry(cfg, p) for p in built if p.shards]
    return doc


def _sets_toolsets(cfg: PipelineConfig) -> bool:
    """Whether the config sets `toolsets`, an empty list too (copied as set, like `tags`)."""
    return isinstance(cfg.raw, Mapping) and cfg.raw.get("toolsets") is not None


def _file_entry(cfg: PipelineConfig, p: PartitionShards) -> dict[str, Any]:
    entry: dict[str, Any] = {"split": p.split, "objective": p.objective, "format": "jsonl"}
    entry["shards"] = [
        {
            "path": s["path"],
            "compression": s["compression"],
            "record_count": s["record_count"],
            "sha256": s["sha256"],
        }
        for s in sorted(p.shards, key=lambda s: s["path"])
    ]
    if cfg.output.shard_by == "content_type":
        entry["notes"] = content_type_note(p.objective, p.split, [s["path"] for s in p.shards])
    return entry


def content_type_note(objective: str, split: str, paths: Sequence[str]) -> str:
    """Where a partition sharded by content type keeps its shards, as they are named: its
    snapshot folder in `data/` (shard_families.snapshot_folder), then one family per type."""
    folders = sorted({posixpath.dirname(path) for path in paths})
    folder = folders[0] if len(folders) == 1 else f"data/{objective}-{split}-<digest>"
    extensions = sorted({_shard_extension(path) for path in paths})
    ext = extensions[0] if len(extensions) == 1 else ".jsonl[.gz|.zst]"
    return f"sharded by content type: {folder}/{objective}-{split}-<content_type>-NNNNN{ext}"


def _shard_extension(path: str) -> str:
    by_length = sorted(SHARD_EXTENSIONS.values(), key=len, reverse=True)
    return next((ext for ext in by_length if path.endswith(ext)), "")


def _extension(cfg: PipelineConfig, built: Sequence[PartitionShards]) -> dict[str, Any]:
    # By (source, file, file_b64): two files whose shown names coincide are both listed, the
    # one whose name is UTF-8 first; ordinary names sort as ever.
    files: dict[tuple[str, str, str], dict[str, Any]] = {}
    for p in built:
        for f in p.files:
            files.setdefault(
                (f["source"], f["file"], f.get("file_b64", "")),
                {
                    "source": f["source"],
                    "file": f["file"],
                    "sha256": f["sha256"],
                    "bytes": f["bytes"],
                    **({"file_b64": f["file_b64"]} if "file_b64" in f else {}),
                },
            )
    return {
        "generator": GENERATOR,
        "sources": [
            {
                "name": s.name,
                "objective": s.objective,
                "split": s.split,
                "adapter": s.adapter,
                **({"license": s.license} if s.license else {}),
                **({"content_type": s.content_type} if s.content_type else {}),
            }
            for s in cfg.sources
        ],
        "source_files": [files[k] for k in sorted(files)],
        "accounting": {
            p.key: _accounting(p.accounting, RateLimits.of_config(cfg, p.key))
            for p in built
            if _accounted(p)
        },
    }


def _accounted(p: PartitionShards) -> bool:
    """Whether metadata.json accounts for a built partition: it has shards, read an input, or
    a source feeds it (its accounting lists a source, an empty file's with 0 read too), so
    every file in `source_files` is charged to an accounted partition. Only a partition no
    source was charged to has nothing to account for."""
    return bool(p.shards or p.accounting.get("read", 0) or p.accounting.get("per_source"))


def _accounting(accounting: Mapping[str, Any], limits: RateLimits) -> dict[str, Any]:
    """A partition's accounting, per source too: read = written + quarantined, the quarantined
    by reason (an auditor reconciles them with the shards' records and the quarantine files);
    the source `files` charged to it and the `unread_files` among them; and the `thresholds`
    the blocking rate checks judged it by (`limits`: the publication publishes a partition
    only when its checks pass under the config it publishes with, partition_gate.py), a
    source's own `thresholds` beside its counts. So the rate checks can be decided again from
    metadata.json alone, as the build decided them (rate_checks.evaluate_accounting)."""
    out: dict[str, Any] = {
        k: accounting[k]
        for k in ("read", "written", "quarantined", "files", "unread_files")
        if k in accounting
    }
    out["thresholds"] = {THRESHOLD_KEYS[r]: limits.partition[THRESHOLD_KEYS[r]] for r in RATES}
    per_source = accounting.get("per_source") or {}
    out["sources"] = {
        name: {
            "read": c["read"],
            "written": c["written"],
            "quarantined": c["quarantined"],
            "quarantined_by_reason": dict(sorted(c.get("quarantined_by_reason", {}).items())),
            **{k: c[k] for k in ("files", "unread_files") if k in c},
            **({"thresholds": own} if (own := limits.of_source(name)) else {}),
        }
        for name, c in sorted(per_source.items())
    }
    return out


def manifest_bytes(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"
