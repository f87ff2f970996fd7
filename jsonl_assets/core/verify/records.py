"""Every line of a shard against the record rules (D, E, F through `core.rules`).

Lines come a chunk at a time from `verify_limits.bounded_blocks` and are parsed with orjson,
so memory holds one chunk and one line at a time. A line longer than `max_line_bytes` is D1
and is never held; a record nested too deeply for the rule checks is D1. `warnings=False`
(the build's check) reports record errors only.

A hostile shard costs about what its bytes cost, not one Python step per line:

* blank lines (D2) are counted by runs (`verify_limits.block_lines`), with bytes operations
  in a block of short lines;
* a finding past the caps of `report.Sink` is counted without its message being made;
* past `limits.max_shard_errors` errors the records are no longer parsed: the rest of the
  file is decompressed (C15) and hashed (C17) only, and one error, listed whatever the caps,
  says so and which checks were not made (C16 is then skipped).

As the build (`readers/jsonl.py`) does, an object that repeats a key is a D1 error. A number
orjson does not read with its exact value (an integer beyond 64 bits, more precision than a
double, `1e400`) is valid JSON: a D1 warning (the build quarantines such a record as
`unsupported_value`), and the record is checked as `exact_values.read_exact` reads it, so a
rule sees and names its numbers as written.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from jsonl_assets.core.compression import TruncatedInput
from jsonl_assets.core.dedup import id_digest
from jsonl_assets.core.readers.duplicate_keys import repeated_key
from jsonl_assets.core.readers.exact_numbers import suspect_lines
from jsonl_assets.core.rules import (
    ERROR,
    WARNING,
    Problem,
    RecordContext,
    record_errors,
    record_problems,
)
from jsonl_assets.core.rules.spec_vocabulary import MEDIA_PART_TYPES
from jsonl_assets.core.verify.exact_values import INEXACT_NOTE, NumberTooLong, read_exact
from jsonl_assets.core.verify.ids import IdSink
from jsonl_assets.core.verify.report import Finding, Sink, jtype, not_json, show, too_long
from jsonl_assets.core.verify.shard_stream import ShardStream
from jsonl_assets.core.verify.verify_limits import (
    ExpansionExceeded,
    VerifyLimits,
    block_lines,
    bounded_blocks,
)

ID_BATCH: Final = 8192
_NOT_CHECKED: Final = (
    "its later lines were not parsed: their record rules (D, E, F), blank lines (D2), "
    "duplicate ids (D7) and asset references (D19, G5), and the shard's record_count (C16), "
    "were not checked; the file was still read to the end for C15 and C17"
)


class _Reader:
    """The state of one `read_records` pass."""

    def __init__(
        self,
        path: str,
        objective: str | None,
        ctx: RecordContext,
        sink: Sink,
        id_sink: IdSink | None,
        warnings: bool,
        asset_refs: set[str] | None,
        limits: VerifyLimits,
    ) -> None:
        self.path = path
        self.objective = objective
        self.ctx = ctx
        self.sink = sink
        self.id_sink = id_sink
        self.check = record_problems if warnings else record_errors
        self.warnings = warnings
        self.asset_refs = asset_refs
        self.max_errors = limits.max_shard_errors
        self.max_line = limits.max_line_bytes
        self.count = 0
        self.unread = 0  # lines whose record could not be read (too long, not JSON)
        self.line_no = 0
        self.digests: list[bytes] = []
        self.lines: list[int] = []
        self.stopped: Finding | None = None

    def full(self) -> bool:
        """Past the error budget: record why (once) and tell the caller to stop."""
        if self.sink.errors < self.max_errors:
            return False
        if self.stopped is None:
            message = (
                f"checking stopped at line {self.line_no + 1}: the shard has "
                f"{self.sink.errors} errors (--max-shard-errors {self.max_errors}); " + _NOT_CHECKED
            )
            self.stopped = Finding("D1", ERROR, self.path, self.line_no + 1, message)
            self.sink.always(self.stopped)
        return True

    def error(self, rule: str, message: str) -> None:
        self.sink.error(rule, self.path, self.line_no, message)

    def block(self, block: bytes | int) -> bool:
        """Check the lines of one block; False once the error budget is spent."""
        if type(block) is int:
            if self.full():
                return False
            self.line_no += 1
            self.count += 1
            self.unread += 1
            self.sink.error("D1", self.path, self.line_no, too_long(block, self.max_line))
            return True
        assert type(block) is bytes
        suspects: set[int] | None = None  # lines that may hold a number orjson alters
        i = 0  # the index in the block of the line `item` starts at
        for item in block_lines(block):
            if self.full():
                return False
            if type(item) is int:
                self.blanks(item)
                i += item
                continue
            assert type(item) is bytes
            if suspects is None:  # a block of blank lines only is not scanned
                suspects = suspect_lines(block)
            self.record(item, i in suspects)
            i += 1
        return True

    def blanks(self, n: int) -> None:
        self.sink.add_run("D2", WARNING, self.path, self.line_no + 1, n, "blank line")
        self.line_no += n

    def record(self, line: bytes, suspect: bool) -> None:
        self.line_no += 1
        self.count += 1
        sink = self.sink
        path = self.path
        try:
            parsed = read_exact(line, suspect)
        except orjson.JSONDecodeError as exc:
            self.unread += 1
            if sink.wants("D1", path):
                self.error("D1", f"line is not valid JSON: {not_json(line, exc)}")
            else:
                sink.skip("D1", ERROR, path)
            return
        except NumberTooLong as exc:
            self.unread += 1
            self.error("D1", str(exc))
            return
        record = parsed.value
        if type(record) is dict:
            key = repeated_key(line, record)
            if key is not None:
                self.error(
                    "D1",
                    f"an object repeats the key {show(key)}: a reader keeps only one of its "
                    "values (the build quarantines such a record as duplicate_key)",
                )
        if parsed.inexact is not None and self.warnings:
            sink.warning("D1", path, self.line_no, f"{parsed.inexact}: {INEXACT_NOTE}")
        if self.objective is not None:
            try:
                problems = self.check(record, self.objective, self.ctx)
            except RecursionError:
                problems = [Problem("D1", ERROR, "record is nested too deeply to check")]
            if problems:
                sink.problems(problems, path, self.line_no)
        elif type(record) is not dict:
            if sink.wants("D1", path):
                self.error("D1", f"record: root must be an object, got {jtype(record)}")
            else:
                sink.skip("D1", ERROR, path)
        if type(record) is not dict:
            return
        if self.id_sink is not None:
            record_id = record.get("id")
            if type(record_id) is str:
                self.digests.append(id_digest(record_id))
                self.lines.append(self.line_no)
                if len(self.digests) >= ID_BATCH:
                    self.flush_ids()
        if self.asset_refs is not None and (b"asset_id" in line or b"\\u" in line):
            collect_asset_refs(record, self.asset_refs)

    def flush_ids(self) -> None:
        if self.digests and self.id_sink is not None:
            self.id_sink(self.digests, self.lines)
        self.digests, self.lines = [], []


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
) -> tuple[int, bool, Finding | None, int]:
    """Check every line of the shard; return (records found, stream damaged or capped, the
    finding that says checking stopped at `limits.max_shard_errors`, or None, the lines whose
    record could not be read: too long or not JSON, so their ids and references are unknown).

    A line longer than `limits.max_line_bytes` is a D1 error (counted as a record, never
    held); more than `limits.decompressed_cap` bytes is a C15 error and ends the reading.
    """
    reader = _Reader(path, objective, ctx, sink, id_sink, warnings, asset_refs, limits)
    damaged = False
    chunks = stream.chunks(codec, limits.decompressed_cap(stream.total))
    try:
        for block in bounded_blocks(chunks, limits.max_line_bytes):
            if not reader.block(block):
                break
        for _ in chunks:  # stopped: the rest is decompressed for C15, not split or parsed
            pass
    except TruncatedInput as exc:
        damaged = True
        sink.error(
            "C15",
            path,
            None,
            f"{exc.headline}"
            f"{'' if reader.stopped else f' (after line {reader.line_no})'}: {exc.detail}",
        )
    except ExpansionExceeded as exc:
        damaged = True
        where = "" if reader.stopped else f" (after line {reader.line_no})"
        sink.error("C15", path, None, f"{codec} stream {exc}{where}")
    reader.flush_ids()
    return reader.count, damaged, reader.stopped, reader.unread


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
