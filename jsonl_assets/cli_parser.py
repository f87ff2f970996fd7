"""The command line of `jsonl-assets`: its subcommands and every flag (the README's
"Command-line reference" lists each of them, checked by `test_cli_parser.py`)."""

from __future__ import annotations

import argparse
import os
from typing import Final

from jsonl_assets.cli_arguments import MAX_WORKERS, byte_size, positive_int, seconds, worker_count
from jsonl_assets.core.config import CONFIG_ENV_VAR

EXIT_BUSY: Final = 3  # another build holds the package dir


def command_parser(description: str) -> argparse.ArgumentParser:
    """`build`, `verify` and `report`; the subcommand's name is `command`."""
    parser = argparse.ArgumentParser(prog="jsonl-assets", description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser(
        "build", help="materialise the stages of every (or the given) partition, then the manifest"
    )
    build.add_argument(
        "--config", help=f"pipeline config (default: ${CONFIG_ENV_VAR} or data/pipeline.yaml)"
    )
    build.add_argument(
        "--partition",
        action="append",
        metavar="OBJECTIVE|SPLIT",
        help="only this partition (repeatable), e.g. 'sft|train'",
    )
    build.add_argument(
        "--workers",
        type=worker_count,
        default=os.cpu_count() or 1,
        help="worker processes in all, across partitions and a partition's chunks, 1 to "
        f"{MAX_WORKERS} (default: the number of cores)",
    )
    build.add_argument(
        "--force", action="store_true", help="redo every stage instead of reusing finished work"
    )
    build.add_argument(
        "--replace-other-dataset",
        action="store_true",
        help="replace a jsonl-assets package of another dataset (its metadata.json names "
        "another dataset.name) found in output.dir; without it the build refuses to touch it",
    )
    build.add_argument(
        "--verbose", action="store_true", help="also print Dagster's errors with stack traces"
    )
    build.add_argument(
        "--wait",
        nargs="?",
        type=seconds,
        const=float("inf"),
        metavar="SECONDS",
        help="if another build or a report holds the package dir, wait for it (at most SECONDS) "
        f"instead of failing at once with exit code {EXIT_BUSY}",
    )
    verify = sub.add_parser(
        "verify", help="check an LLM Training Data v1 package against every error rule of the spec"
    )
    verify.add_argument("package_dir")
    verify.add_argument("--warnings", action="store_true", help="print warnings too")
    verify.add_argument(
        "--forbid-split-leakage",
        action="store_true",
        help="treat an id present in two splits as an error (rule L1)",
    )
    from jsonl_assets.core.verify import verify_limits as vl

    verify.add_argument(
        "--max-metadata-bytes",
        type=byte_size,
        default=vl.DEFAULT_MAX_METADATA_BYTES,
        metavar="BYTES",
        help="a larger metadata.json is an A1 error (default: 16MiB)",
    )
    verify.add_argument(
        "--max-line-bytes",
        type=byte_size,
        default=vl.DEFAULT_MAX_LINE_BYTES,
        metavar="BYTES",
        help="a longer line is a D1 (shard) or G2 (asset index) error and is never held "
        "(default: 16MiB, the build's limits.max_record_bytes default)",
    )
    verify.add_argument(
        "--max-expansion",
        type=positive_int,
        default=vl.DEFAULT_MAX_EXPANSION,
        metavar="RATIO",
        help="a shard may decompress to RATIO x its on-disk size (but always to "
        "--expansion-floor); beyond is a C15 error (the asset index is never decompressed: "
        "compressed, it is a G2 error) (default: 1000)",
    )
    verify.add_argument(
        "--expansion-floor",
        type=byte_size,
        default=vl.DEFAULT_EXPANSION_FLOOR,
        metavar="BYTES",
        help="decompressed bytes every file may reach whatever its size (default: 64MiB)",
    )
    verify.add_argument(
        "--max-shard-bytes",
        type=byte_size,
        default=vl.DEFAULT_MAX_SHARD_BYTES,
        metavar="BYTES",
        help="a shard file (or the asset index) larger than this on disk is a C13 (G1) error "
        "and is not read (default: 64GiB)",
    )
    verify.add_argument(
        "--max-shard-errors",
        type=positive_int,
        default=vl.DEFAULT_MAX_SHARD_ERRORS,
        metavar="N",
        help="past N errors in one shard its records are no longer parsed; the file is still "
        "read to the end for C15 and C17 (default: 100000)",
    )
    report = sub.add_parser(
        "report", help="write report.html and DATACARD.md again for the published package"
    )
    report.add_argument(
        "--config", help=f"pipeline config (default: ${CONFIG_ENV_VAR} or data/pipeline.yaml)"
    )
    report.add_argument(
        "--wait", type=seconds, default=600.0, metavar="SECONDS", help="wait for a build this long"
    )
    return parser
