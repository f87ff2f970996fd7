"""The asset index: G1-G5 (G5, unused assets, is decided in `package` once every record is read).

The index file is read through `shard_stream.ShardStream` like a shard: only a regular file
inside the package, no larger than `max_shard_bytes` on disk (else G1, not read), lines
bounded (a longer line is G2), blank lines
counted by runs and, past `max_shard_errors` errors in it, no longer parsed (as a shard's).
A line that repeats a key is G2, as D1 is for a record; a number a float64/int64 parser
would change is valid JSON: a G2 warning, and the line is checked as
`exact_values.read_exact` reads it.

The index is plain JSONL: spec 8.1 gives it a path and `format: jsonl`, no compression. A file
that starts with gzip or zstd magic bytes is one G2 error and is not read (decompressing it
would accept a file a plain JSONL reader cannot read); the index is then unusable (None).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.compression import detect_compression
from jsonl_assets.core.readers.duplicate_keys import repeated_key
from jsonl_assets.core.rules import ERROR, WARNING
from jsonl_assets.core.rules.vocabulary import is_count
from jsonl_assets.core.verify.exact_values import INEXACT_NOTE, NumberTooLong, read_exact
from jsonl_assets.core.verify.paths import path_problem
from jsonl_assets.core.verify.report import (
    METADATA_FILE,
    Finding,
    Sink,
    jtype,
    not_json,
    show,
    too_long,
)
from jsonl_assets.core.verify.shard_stream import ShardStream
from jsonl_assets.core.verify.verify_limits import (
    Unreadable,
    VerifyLimits,
    block_lines,
    bounded_blocks,
)

_ASSET_KEYS: Final = frozenset({"asset_id", "uri", "mime_type", "sha256", "bytes", "metadata"})


def check_asset_index(
    package_dir: Path, meta: dict[str, Any], sink: Sink, limits: VerifyLimits
) -> dict[str, int] | None:
    """G1-G4; return asset id -> line, or None when no usable index is declared."""
    index = meta.get("asset_index")
    if type(index) is not dict:
        return None
    path = index.get("path")
    if type(path) is not str:
        sink.error("G1", METADATA_FILE, None, "asset_index: needs a string 'path'")
        return None
    if "format" in index and index["format"] != "jsonl":
        sink.error(
            "G1",
            METADATA_FILE,
            None,
            f"asset_index.format: {show(index['format'])} is not 'jsonl'",
        )
    problem = path_problem(package_dir, path)
    if problem is not None:
        sink.error("G1", METADATA_FILE, None, f"asset_index.path: {problem}")
        return None
    try:
        stream = ShardStream.open(package_dir / path, package_dir)
    except Unreadable as exc:
        sink.error("G1", path, None, f"asset index file {exc.reason}")
        return None
    if stream.total > limits.max_shard_bytes:
        stream.close()
        sink.error(
            "G1",
            path,
            None,
            f"asset index file is {stream.total} bytes, more than --max-shard-bytes "
            f"({limits.max_shard_bytes}): not read",
        )
        return None
    with stream:
        return _read_index(stream, path, sink, limits)


def _read_index(
    stream: ShardStream, path: str, sink: Sink, limits: VerifyLimits
) -> dict[str, int] | None:
    """G2-G4 on every line, as `records` reads a shard: blank lines counted by runs, and
    past `limits.max_shard_errors` errors in the index no line is parsed (the index is then
    unusable: None)."""
    assets: dict[str, int] = {}
    line_no = 0
    codec = detect_compression(stream.head)
    if codec != "none":
        message = (
            f"the asset index holds {codec}-compressed bytes: the index is plain JSONL (spec "
            "8.1 gives it no compression), so its lines are not JSON objects; it was not read, "
            "so the records' asset references (D19) and unused assets (G5) were not checked"
        )
        sink.always(Finding("G2", ERROR, path, 1, message))
        return None
    chunks = stream.chunks("none")
    budget = sink.errors + limits.max_shard_errors
    stopped = False
    for block in bounded_blocks(chunks, limits.max_line_bytes):
        if type(block) is int:
            if sink.errors >= budget:
                stopped = True
                break
            line_no += 1
            sink.error("G2", path, line_no, too_long(block, limits.max_line_bytes))
            continue
        for item in block_lines(block):
            if sink.errors >= budget:
                stopped = True
                break
            if type(item) is int:
                sink.add_run("G2", WARNING, path, line_no + 1, item, "blank line")
                line_no += item
            else:
                line_no += 1
                _check_asset_line(item, path, line_no, assets, sink)
        if stopped:
            break
    if stopped:
        message = (
            f"checking stopped at line {line_no + 1}: the asset index has "
            f"{limits.max_shard_errors} errors (--max-shard-errors); its later lines were "
            "not parsed, so the records' asset references (D19) and unused assets (G5) "
            "were not checked"
        )
        sink.always(Finding("G2", ERROR, path, line_no + 1, message))
    return None if stopped else assets


def _check_asset_line(
    line: bytes, path: str, line_no: int, assets: dict[str, int], sink: Sink
) -> None:
    try:
        parsed = read_exact(line)
    except orjson.JSONDecodeError as exc:
        if sink.wants("G2", path):
            sink.error("G2", path, line_no, f"line is not valid JSON: {not_json(line, exc)}")
        else:
            sink.skip("G2", ERROR, path)
        return
    except NumberTooLong as exc:
        sink.error("G2", path, line_no, str(exc))
        return
    asset = parsed.value
    if parsed.inexact is not None:
        sink.warning("G2", path, line_no, f"{parsed.inexact}: {INEXACT_NOTE}")
    if type(asset) is not dict:
        sink.error("G2", path, line_no, f"asset must be an object, got {jtype(asset)}")
        return
    key = repeated_key(line, asset)
    if key is not None:
        sink.error(
            "G2", path, line_no, f"an object repeats the key {show(key)}: a reader keeps one value"
        )
    for key in ("asset_id", "uri"):
        if type(asset.get(key)) is not str:
            sink.error("G2", path, line_no, f"asset needs a string {show(key)}")
    for key in asset:
        if key not in _ASSET_KEYS:
            sink.error("G3", path, line_no, f"unknown asset key {show(key)}")
    for key in ("mime_type", "sha256"):
        if key in asset and type(asset[key]) is not str:
            sink.error("G3", path, line_no, f"{key}: must be a string, got {jtype(asset[key])}")
    if "bytes" in asset and not is_count(asset["bytes"]):
        sink.error(
            "G3",
            path,
            line_no,
            f"bytes: must be a non-negative integer, got {show(asset['bytes'])}",
        )
    if "metadata" in asset and type(asset["metadata"]) is not dict:
        sink.error("G3", path, line_no, "metadata: must be an object")
    asset_id = asset.get("asset_id")
    if type(asset_id) is str:
        first = assets.get(asset_id)
        if first is not None:
            sink.error("G4", path, line_no, f"asset_id {show(asset_id)} repeats line {first}")
        else:
            assets[asset_id] = line_no
