"""One shard entry and its file: C9-C17, C20, D1, D2 and every record rule.

Choices where the checklist leaves room: a FIFO, device, socket or directory is C13, a
symlink out of the package C12, a file past `max_shard_bytes` C13 (not read). C15 also fires
when the magic bytes contradict the declared codec (its records are then not read); C16's
count comparison is skipped when C15 fired or the records were no longer parsed past
`max_shard_errors` (see `records`). C17: a digest that is not 64 hex characters is
an error, upper-case hex that matches a warning. C20: a shard of `LARGE_SHARD_BYTES` or more
without `sha256` or `record_count`. A shard the build already verified (`trusted_sha256`)
whose declared and on-disk sha256 still equal that digest is checked by hash only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from jsonl_assets.core.compression import detect_compression
from jsonl_assets.core.rules import RecordContext
from jsonl_assets.core.rules.spec_vocabulary import COMPRESSIONS
from jsonl_assets.core.rules.vocabulary import is_count
from jsonl_assets.core.verify.ids import IdSink
from jsonl_assets.core.verify.int_text import long_int_text
from jsonl_assets.core.verify.paths import path_problem
from jsonl_assets.core.verify.records import read_records
from jsonl_assets.core.verify.report import (
    METADATA_FILE,
    Finding,
    ShardCheck,
    Sink,
    jtype,
    show,
)
from jsonl_assets.core.verify.shard_stream import ShardStream
from jsonl_assets.core.verify.verify_limits import DEFAULT_LIMITS, Unreadable, VerifyLimits

LARGE_SHARD_BYTES: Final = 64 * 1024 * 1024
_SHARD_KEYS: Final = frozenset({"path", "compression", "record_count", "sha256"})
_EXTENSION_CODEC: Final = (("gzip", ".gz"), ("zstd", ".zst"))
_CONTENT: Final = {"none": "not compressed", "gzip": "gzip", "zstd": "zstd"}
_HEX: Final = frozenset("0123456789abcdefABCDEF")


@long_int_text()
def verify_shard(
    package_dir: Path,
    shard: Mapping[str, Any],
    objective: str | None,
    ctx: RecordContext,
    *,
    id_sink: IdSink | None = None,
    warnings: bool = False,
    asset_refs: set[str] | None = None,
    trusted_sha256: str | None = None,
    limits: VerifyLimits = DEFAULT_LIMITS,
) -> ShardCheck:
    """Check one shard entry and its file: C9-C17, C20, D1, D2 and every record rule.

    `objective` None (the file entry's objective is invalid) checks only that each line
    is a JSON object. `id_sink` receives batches of (id digests, 1-based line numbers) of
    records with a string `id`. `warnings` adds the record rules' warnings. `asset_refs`,
    when given, collects every `ref.asset_id` used (for G5). `trusted_sha256` is the digest
    of a file the build already verified (shards_verified): when the entry declares it, the file still
    has it, and the entry declares a record_count, the records are not read again. `limits`
    caps the line length and the decompressed size (see `verify_limits`).
    """
    sink = Sink()
    if not isinstance(shard, Mapping):
        sink.error("C9", METADATA_FILE, None, f"shard entry must be an object, got {jtype(shard)}")
        return _shard_result("", sink)
    path = shard.get("path")
    if type(path) is not str:
        sink.error("C9", METADATA_FILE, None, "shard entry needs a string 'path'")
        return _shard_result("", sink)
    for key in shard:
        if key not in _SHARD_KEYS:
            sink.error("C10", path, None, f"shard entry: unknown key {show(key)}")
    compression = shard.get("compression", "none")
    codec: str | None = compression
    if compression not in COMPRESSIONS:
        sink.error(
            "C11", path, None, f"compression {show(compression)} is not one of none/gzip/zstd"
        )
        codec = None
    declared_count = _declared_count(shard, path, sink)
    declared_sha = _declared_sha(shard, path, sink)

    problem = path_problem(package_dir, path)
    if problem is not None:
        sink.error("C12", path, None, problem)
        return _shard_result(path, sink)
    try:
        stream = ShardStream.open(package_dir / path, package_dir)
    except Unreadable as exc:
        if exc.kind in ("outside", "unresolvable"):  # changed since path_problem looked
            sink.error("C12", path, None, f"path {show(path)} {exc.reason}")
        elif exc.kind == "not_regular":
            sink.error("C13", path, None, "shard file is not a regular file")
        else:
            sink.error("C13", path, None, f"shard file {exc.reason}")
        return _shard_result(path, sink)
    size = stream.total
    if size > limits.max_shard_bytes:
        stream.close()
        sink.error(
            "C13",
            path,
            None,
            f"shard file is {size} bytes, more than --max-shard-bytes ({limits.max_shard_bytes}):"
            " not read",
        )
        return _shard_result(path, sink)
    if codec is not None:
        expected = next((c for c, ext in _EXTENSION_CODEC if path.endswith(ext)), "none")
        if expected != codec:
            sink.warning(
                "C14", path, None, f"file extension suggests {expected}, compression is {codec}"
            )

    count = 0
    damaged = False
    unread = 0
    stopped: Finding | None = None
    with stream:
        head = stream.head
        found = detect_compression(head)
        if codec is not None and found != codec:
            if not head:
                what = f"file is empty, which is not a {codec} stream"
            else:
                what = f"file content is {_CONTENT[found]} (by its magic bytes)"
                what += f" but compression is declared {codec}"
            sink.error("C15", path, None, what)
            codec = None
        trusted = False
        if (
            codec is not None
            and trusted_sha256 is not None
            and declared_sha is not None
            and declared_count is not None
            and declared_sha.lower() == trusted_sha256.lower()
        ):
            stream.drain()
            trusted = stream.sha256() == trusted_sha256.lower()
            if trusted:
                count = declared_count
            else:  # changed since it was verified: verify it in full
                stream.rewind()
        if codec is not None and not trusted:
            count, damaged, stopped, unread = read_records(
                stream, codec, path, objective, ctx, sink, id_sink, warnings, asset_refs, limits
            )
        stream.drain()
    digest = stream.sha256()

    if (
        declared_count is not None
        and not damaged
        and stopped is None
        and codec is not None
        and declared_count != count
    ):
        sink.error(
            "C16", path, None, f"record_count is {declared_count} but the shard holds {count}"
        )
    if declared_sha is not None and declared_sha.lower() != digest:
        sink.error("C17", path, None, f"sha256 is {declared_sha} but the file's is {digest}")
    if stream.size >= LARGE_SHARD_BYTES:
        missing = [key for key in ("sha256", "record_count") if key not in shard]
        if missing:
            sink.warning(
                "C20",
                path,
                None,
                f"large shard ({stream.size} bytes) without {' and '.join(missing)}",
            )
    whole = codec is not None and not trusted and not damaged and stopped is None and not unread
    return _shard_result(
        path, sink, digest, count, stream.size, parsed=not trusted, stopped=stopped, whole=whole
    )


def _shard_result(
    path: str,
    sink: Sink,
    sha256: str = "",
    count: int = 0,
    size: int = 0,
    *,
    parsed: bool = True,
    stopped: Finding | None = None,
    whole: bool = False,
) -> ShardCheck:
    omitted = {rule: n for (rule, _), n in sink.omitted.items()}
    return ShardCheck(
        path,
        sha256,
        count,
        size,
        sink.findings,
        sink.errors,
        sink.warnings,
        omitted,
        parsed,
        stopped,
        whole,
    )


def _declared_count(shard: Mapping[str, Any], path: str, sink: Sink) -> int | None:
    if "record_count" not in shard:
        return None
    value = shard["record_count"]
    if not is_count(value):
        sink.error(
            "C16", path, None, f"record_count must be a non-negative integer, got {show(value)}"
        )
        return None
    return int(value)


def _declared_sha(shard: Mapping[str, Any], path: str, sink: Sink) -> str | None:
    if "sha256" not in shard:
        return None
    value = shard["sha256"]
    if type(value) is not str or len(value) != 64 or not _HEX.issuperset(value):
        sink.error("C17", path, None, f"sha256 must be 64 hex characters, got {show(value)}")
        return None
    if value != value.lower():
        sink.warning("C17", path, None, "sha256 should be written in lower-case hex")
    return value
