"""The manifest's materialisation metadata, published or not. Only a package actually
published gets `metadata_json`, `dagster/row_count`, `records`, `shards` and
`quarantine_published`; a refused one says why (`problems`), what was refused
(`records_refused`, `shards_refused`) and where its candidate lies in the work dir (when it
was written), and its summary marks every cell not published."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import dagster as dg

from jsonl_assets.core.build import Publication, problem_partition
from jsonl_assets.core.manifest_builder import PartitionShards
from jsonl_assets.core.report.markdown_text import md_list
from jsonl_assets.core.stages.manifest_stage import ManifestResult
from jsonl_assets.defs.stage_metadata import PUBLISHED_QUARANTINE, ROW_COUNT
from jsonl_assets.defs.ui_metadata import Cell, package_summary_table

PUBLISHED: Final = "published"
PROBLEMS: Final = "problems"
SUMMARY: Final = "summary"
CANDIDATE: Final = "candidate"  # the refused metadata.json, in the work dir
# A cell of a package not published because of other partitions (see `problems`).
NOT_PUBLISHED: Final = "not published (see problems)"
# Every cell of a package the verification refused.
REFUSED: Final = "FAILED: package_valid: not published (see problems)"


def package_cells(
    partitions: Sequence[PartitionShards],
    problems: Sequence[str] = (),
    left_out: Mapping[str, int | None] | None = None,
    unpublished: str | None = None,
) -> dict[tuple[str, str], Cell]:
    """Per objective × split: records written, quarantined, shards and the checks' outcome
    (`checks passed`, or `WARNING empty_partition` for a partition whose files held no record).
    A partition a problem left out is `FAILED: <its problems>`, with the records its record
    stages quarantined (`left_out`; not shown when unknown). `unpublished` is appended to the
    outcome of the others when the package was not published, or replaces it (a FAILED one)."""
    cells: dict[tuple[str, str], Cell] = {}
    for p in partitions:
        records = sum(s["record_count"] for s in p.shards)
        quarantined = int(p.accounting.get("quarantined", 0))
        outcome = "checks passed" if records or not p.files else "WARNING empty_partition"
        if unpublished is not None:
            failed = unpublished.startswith("FAILED")
            outcome = unpublished if failed else f"{outcome}; {unpublished}"
        cells[(p.objective, p.split)] = Cell(records, quarantined, len(p.shards), outcome)
    why: dict[str, list[str]] = {}
    for problem in problems:
        if (key := problem_partition(problem)) is not None:
            why.setdefault(key, []).append(problem.partition(": ")[2])
    for key, reasons in why.items():
        objective, _, split = key.partition("|")
        quarantined = (left_out or {}).get(key)
        cells[(objective, split)] = Cell(0, quarantined, 0, f"FAILED: {'; '.join(reasons)}")
    return cells


def left_out_metadata(publication: Publication) -> dict[str, Any]:
    """Partitions' problems stopped the publication before a manifest was built."""
    problems = publication.problems
    cells = package_cells(publication.partitions, problems, publication.left_out, NOT_PUBLISHED)
    return {
        PUBLISHED: False,
        PROBLEMS: dg.MetadataValue.md(md_list(problems)),
        SUMMARY: dg.MetadataValue.md(package_summary_table(cells)),
    }


def refused_metadata(
    partitions: Sequence[PartitionShards], result: ManifestResult, why: str
) -> dict[str, Any]:
    """The verification refused the manifest (`why`: the package_valid check's description):
    nothing was published, the package on disk is unchanged."""
    cells = package_cells(partitions, unpublished=REFUSED)
    built = [c for c in cells.values() if c.shards]
    meta: dict[str, Any] = {
        PUBLISHED: False,
        PROBLEMS: dg.MetadataValue.md(
            md_list(
                [
                    f"package_valid: {why}",
                    "metadata.json was not published: the package is unchanged",
                ]
            )
        ),
        SUMMARY: dg.MetadataValue.md(package_summary_table(cells)),
        "records_refused": dg.MetadataValue.int(sum(c.records for c in built)),
        "shards_refused": dg.MetadataValue.int(sum(c.shards for c in built)),
        "duration (s)": dg.MetadataValue.float(round(result.seconds, 3)),
    }
    if result.candidate is not None and result.candidate.is_file():
        meta[CANDIDATE] = dg.MetadataValue.path(str(result.candidate))
    return meta


def published_metadata(
    partitions: Sequence[PartitionShards], result: ManifestResult
) -> dict[str, Any]:
    """The package just published: its metadata.json, quarantine pointer and counts."""
    cells = package_cells(partitions)
    built = [c for c in cells.values() if c.shards]
    records = sum(c.records for c in built)
    meta: dict[str, Any] = {
        PUBLISHED: True,
        "metadata_json": dg.MetadataValue.path(str(result.path)),
    }
    if result.quarantine_pointer:  # the pointer to the quarantine published with it
        meta[PUBLISHED_QUARANTINE] = dg.MetadataValue.path(result.quarantine_pointer)
    return meta | {
        SUMMARY: dg.MetadataValue.md(package_summary_table(cells)),
        "partitions": dg.MetadataValue.int(len(built)),
        "records": dg.MetadataValue.int(records),
        ROW_COUNT: dg.MetadataValue.int(records),
        "shards": dg.MetadataValue.int(sum(c.shards for c in built)),
        "duration (s)": dg.MetadataValue.float(round(result.seconds, 3)),
    }
