"""`verify_package`: a whole package against checklist A-G (spec section 12), and L1.

It reads `metadata.json` (A, `manifest`), its toolsets (B, `toolsets`), the asset index
(G, `asset_index`), the file entries and shards (C, `files`, `shards`) and every record
(D, E, F, `records` through `core.rules`), and keeps the findings in a `report.Sink`.
Limits against hostile packages are in `verify_limits`.

`verified_shards={path: sha256}`: a shard the build already verified (shards_verified: its
lines are byte for byte the records the validated stage judged) whose declared and on-disk
sha256 still equal that digest is checked by hash only: its records add no D7/L1 ids and no
asset references, so G5 is then skipped (as when a shard's records were not all read: past
`--max-shard-errors`, damaged, missing or unreadable). `records_checked` counts such a shard's declared
`record_count`; `shards_trusted` says how many shards took this path. `manifest_path=p`
reads the manifest from `p` (a candidate not yet published); shard paths still resolve
against the package directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from jsonl_assets.core.rules import RecordContext
from jsonl_assets.core.rules.schemas import SchemaIndex
from jsonl_assets.core.rules.walk_state import Problems
from jsonl_assets.core.store.url import location
from jsonl_assets.core.verify.asset_index import check_asset_index
from jsonl_assets.core.verify.defaults import default_toolset as default_toolset_of
from jsonl_assets.core.verify.defaults import system_problems
from jsonl_assets.core.verify.files import check_files
from jsonl_assets.core.verify.int_text import long_int_text
from jsonl_assets.core.verify.manifest import check_manifest, load_manifest
from jsonl_assets.core.verify.records import collect_asset_refs
from jsonl_assets.core.verify.report import METADATA_FILE, Sink, VerifyReport, show
from jsonl_assets.core.verify.shards import DEFAULT_LIMITS
from jsonl_assets.core.verify.toolsets import Report, check_toolsets
from jsonl_assets.core.verify.verify_limits import VerifyLimits


@long_int_text()
def verify_package(
    package_dir: Path,
    *,
    forbid_split_leakage: bool = False,
    manifest_path: Path | None = None,
    verified_shards: Mapping[str, str] | None = None,
    limits: VerifyLimits = DEFAULT_LIMITS,
) -> VerifyReport:
    """Verify a whole package directory against checklist A-G (and L1 when asked).

    `manifest_path` reads the manifest from elsewhere (default: `metadata.json` in the
    package dir); `verified_shards` maps shard paths to the sha256 a record-by-record
    verification already vouched for (see the module docstring). `limits` bounds what is
    read (see `verify_limits`); each breach is an error of the rule of the file concerned.
    """
    package_dir = location(package_dir)
    sink = Sink()
    if manifest_path is None:
        meta = load_manifest(package_dir / METADATA_FILE, package_dir, limits, sink)
    else:  # a candidate the build wrote to its work dir: no containment check
        meta = load_manifest(manifest_path, None, limits, sink)
    if meta is None:
        return VerifyReport(sink.findings, sink.errors, sink.warnings, 0, 0, sink.omitted)
    check_manifest(meta, sink)
    toolsets, schemas = check_toolsets(meta.get("toolsets"), _metadata_report(sink))
    defaults = meta.get("defaults")
    default_toolset = default_toolset_of(
        defaults,
        toolsets,
        lambda rule, severity, message: sink.add(rule, severity, METADATA_FILE, None, message),
    )
    assets = check_asset_index(package_dir, meta, sink, limits)
    asset_ids = frozenset(assets) if assets is not None else None
    base = RecordContext(
        toolsets=toolsets,
        default_toolset_id=default_toolset,
        asset_ids=asset_ids,
        tool_schemas=SchemaIndex(schemas),  # read once for all files
    )
    problems = system_problems(defaults, base)
    for problem in problems:
        message = f"{problem.message} ({problem.rule})"
        sink.add("A13", problem.severity, METADATA_FILE, None, message)
    if isinstance(problems, Problems):  # those the walk only counted
        for (_, severity), count in problems.omitted.items():
            sink.count("A13", severity, METADATA_FILE, count)

    refs: set[str] | None = set() if assets is not None else None
    if refs is not None and isinstance(defaults, dict):  # records inherit defaults.system
        collect_asset_refs({"messages": [{"content": defaults.get("system")}]}, refs)
    tally = check_files(
        package_dir, meta, base, sink, refs, forbid_split_leakage, verified_shards or {}, limits
    )
    if assets is not None and refs is not None and tally.unread == 0:
        index_path = str(meta["asset_index"]["path"])
        for asset_id, line in assets.items():
            if asset_id not in refs:
                sink.warning("G5", index_path, line, f"asset {show(asset_id)} is never referenced")
    return VerifyReport(
        sink.findings,
        sink.errors,
        sink.warnings,
        tally.records,
        tally.shards,
        sink.omitted,
        tally.trusted,
    )


def _metadata_report(sink: Sink) -> Report:
    """Toolset findings as metadata.json findings, "key: reason"."""

    def report(rule: str, severity: str, key: str, reason: str) -> None:
        sink.add(rule, severity, METADATA_FILE, None, f"{key}: {reason}")

    return report
