"""Every line of a shard against the record rules (D, E, F through `core.rules`).

Lines are split across chunk boundaries by `verify_limits.bounded_lines` and parsed with
orjson, so memory holds one chunk and one line at a time. A line longer than
`max_line_bytes` is D1 and is never held; a record nested too deeply for the rule checks is
D1. `warnings=False` (the build's check) reports record errors only.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from jsonl_assets.core.compression import TruncatedInput
from jsonl_assets.core.dedup import id_digest
from jsonl_assets.core.rules import ERROR, Problem, RecordContext, record_errors, record_problems
from jsonl_assets.core.rules.spec_vocabulary import MEDIA_PART_TYPES
from jsonl_assets.core.verify.ids import IdSink
from jsonl_assets.core.verify.report import Sink, jtype, too_long
from jsonl_assets.core.verify.shard_stream import ShardStream
from jsonl_assets.core.verify.verify_limits import ExpansionExceeded, VerifyLimits

ID_BATCH: Final = 8192


def read_records(
    stream: ShardStream,
    codec: str,
    path: str,
    objective: str | None,
    ctx: RecordContext,
    sink: Sink,
    id_sink: IdSink | None,
    warnings: bool,
    asset_refs: set[str] | None,
    limits: VerifyLimits,
) -> tuple[int, bool]:
    """Check every line of the shard; return (records found, stream damaged or capped).

    A line longer than `limits.max_line_bytes` is a D1 error (counted as a record, never
    held); more than `limits.decompressed_cap` bytes is a C15 error and ends the reading.
    """
    check = record_problems if warnings else record_errors
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    count = 0
    line_no = 0
    digests: list[bytes] = []
    lines: list[int] = []
    damaged = False
    max_line = limits.max_line_bytes
    try:
        for line in stream.lines(codec, limits.decompressed_cap(stream.total), max_line):
            line_no += 1
            if type(line) is int:
                count += 1
                sink.error("D1", path, line_no, too_long(line, max_line))
                continue
            if not line or line.isspace():
                sink.warning("D2", path, line_no, "blank line")
                continue
            count += 1
            try:
                record = loads(line)
            except decode_error as exc:
                sink.error("D1", path, line_no, f"line is not valid JSON: {exc}")
                continue
            if objective is not None:
                try:
                    problems = check(record, objective, ctx)
                except RecursionError:
                    problems = [Problem("D1", ERROR, "record is nested too deeply to check")]
                if problems:
                    sink.problems(problems, path, line_no)
            elif type(record) is not dict:
                sink.error(
                    "D1", path, line_no, f"record: root must be an object, got {jtype(record)}"
                )
            if type(record) is not dict:
                continue
            if id_sink is not None:
                record_id = record.get("id")
                if type(record_id) is str:
                    digests.append(id_digest(record_id))
                    lines.append(line_no)
                    if len(digests) >= ID_BATCH:
                        id_sink(digests, lines)
                        digests, lines = [], []
            if asset_refs is not None and (b"asset_id" in line or b"\\u" in line):
                collect_asset_refs(record, asset_refs)
    except TruncatedInput as exc:
        damaged = True
        sink.error(
            "C15",
            path,
            None,
            f"{exc.compression} stream damaged at compressed offset {exc.offset} "
            f"(after line {line_no}): {exc.detail}",
        )
    except ExpansionExceeded as exc:
        damaged = True
        sink.error("C15", path, None, f"{codec} stream {exc} (after line {line_no})")
    if digests and id_sink is not None:
        id_sink(digests, lines)
    return count, damaged


def collect_asset_refs(record: dict[str, Any], out: set[str]) -> None:
    """Add every `ref.asset_id` of the record's media parts to `out` (for G5)."""
    branches: list[object] = [record.get("messages")]
    candidates = record.get("candidates")
    if type(candidates) is list:
        branches.extend(c.get("messages") for c in candidates if type(c) is dict)
    for messages in branches:
        if type(messages) is not list:
            continue
        for message in messages:
            content = message.get("content") if type(message) is dict else None
            if type(content) is not list:
                continue
            for part in content:
                if type(part) is not dict:
                    continue
                kind = part.get("type")
                if type(kind) is str and kind in MEDIA_PART_TYPES:
                    ref = part.get("ref")
                    if type(ref) is dict and type(ref.get("asset_id")) is str:
                        out.add(ref["asset_id"])
