"""`jsonl-assets report` measures only a valid package: before it reads the shards of a package
it did not just build, the verifier checks the package (its caps, its path containment, its
regular-file opens), so a hostile or damaged package is refused with verify's first finding,
never read through a FIFO, a symlink out of the package or a decompression bomb."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.file_names import shown
from jsonl_assets.core.trusted_shards import trusted_shards
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets.core.verify.verify_limits import limits_for_records


class PackageNotValid(Exception):
    """The package fails verify: no report is written of it."""


def check_reportable(cfg: PipelineConfig, partitions: Iterable[Any]) -> None:
    """`PackageNotValid` unless `verify` finds no error in the config's published package.
    The shards of `partitions` (manifest_builder.PartitionShards: the build's own, verified
    record by record when it published them) are checked by their sha256 only, as the build's
    publication does; every other shard is read in full, under verify's default caps (lines up
    to the config's `max_record_bytes`)."""
    package = cfg.output.dir
    verified = trusted_shards(cfg, partitions)
    limits = limits_for_records(cfg.max_record_bytes)
    report = verify_package(package, verified_shards=verified, limits=limits)
    if report.ok:
        return
    first = next(f for f in report.findings if f.severity == "error")
    where = f"{first.file}:{first.line}" if first.line else first.file
    raise PackageNotValid(
        f"the package is not valid: verify finds {report.error_count} error(s), the first "
        f"{first.rule} {shown(str(where))}: {first.message}; `jsonl-assets verify "
        f"{shown(str(package))}` lists them; nothing was written"
    )
