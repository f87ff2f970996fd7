"""Readers: every input format, streamed, plain or compressed; the `extracted` stage's input.

`read_source(source, fmt, options, limits, scratch_dir)` yields, in file order, good records
`(position, value, raw)` and `Rejection`s (see `base.py`). Compression is detected from magic
bytes, never from the extension. A damaged gzip/zstd stream ends the file with a
`corrupt_file` rejection after every good record before the damage; a member that fails its
checksum (found by `SourceFile.damage()` before the read) turns its records, and the inputs
the reader rejected there, into `corrupt_file` rejections with their bytes (JSONL: the records
on its lines; other formats: every record of the file). At the end the source is
checked to be unchanged (`SourceChangedError` propagates: the caller fails the partition).

Reason codes emitted by readers (stable): see `REASONS`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.compression import DamagedLines, TruncatedInput
from jsonl_assets.core.options import Options, OptionsError, validate_options
from jsonl_assets.core.readers import csv_rows, json_array, jsonl, parquet, text
from jsonl_assets.core.readers.base import ReaderSpec, ReadItem
from jsonl_assets.core.readers.source_file import SourceChangedError, SourceFile
from jsonl_assets.core.traces import Rejection

__all__ = [
    "COMPRESSION_SUFFIXES",
    "READERS",
    "REASONS",
    "Options",
    "OptionsError",
    "ReadItem",
    "ReadLimits",
    "ReaderSpec",
    "Rejection",
    "SourceChangedError",
    "SourceFile",
    "infer_format",
    "read_source",
    "resolve_options",
]

READERS: Final[dict[str, ReaderSpec]] = {
    spec.name: spec
    for spec in (
        jsonl.SPEC,
        json_array.SPEC,
        csv_rows.CSV_SPEC,
        csv_rows.TSV_SPEC,
        parquet.SPEC,
        text.SPEC,
    )
}

REASONS: Final = (
    "corrupt_file",
    "invalid_utf8",
    "invalid_encoding",
    "parse_error",
    "not_an_object",
    "not_an_array",
    "too_large",
    "csv_field_count",
    "csv_unclosed_quote",
    "csv_bad_quote",
    "csv_bad_header",
    "unsupported_value",
)

COMPRESSION_SUFFIXES: Final = (".gz", ".zst", ".zstd")

# Readers that turn a TruncatedInput into the `corrupt_file` rejection themselves, at the exact
# line that was cut (the generic fallback below uses the last position yielded + 1).
_EXACT_TRUNCATION: Final = frozenset({"jsonl", "text"})


@dataclass(frozen=True)
class ReadLimits:
    """Bounds a reader enforces on one record."""

    max_record_bytes: int = 16 * 1024 * 1024


def infer_format(rel_or_path: str) -> str:
    """The reader named by a file's extension, ignoring a trailing .gz/.zst/.zstd."""
    name = Path(rel_or_path).name.lower()
    for suffix in COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    extension = Path(name).suffix
    for spec in READERS.values():
        if extension in spec.extensions:
            return spec.name
    known = sorted(ext for spec in READERS.values() for ext in spec.extensions)
    raise ValueError(
        f"cannot infer the format of {rel_or_path!r} from its extension; known extensions: "
        f"{', '.join(known)} (optionally followed by {', '.join(COMPRESSION_SUFFIXES)}); "
        f"or set the format explicitly to one of {', '.join(sorted(READERS))}"
    )


def resolve_options(fmt: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The format's options model applied to `options`: defaults filled in, sorted by name.
    `OptionsError` (a ValueError) names the option, the format and the valid names."""
    return dict(sorted(validate_options(_spec(fmt).options, options, f"format {fmt!r}").items()))


def _spec(fmt: str) -> ReaderSpec:
    try:
        return READERS[fmt]
    except KeyError:
        raise ValueError(
            f"unknown format {fmt!r}; known formats: {', '.join(sorted(READERS))}"
        ) from None


def read_source(
    source: SourceFile,
    fmt: str,
    options: Mapping[str, Any],
    limits: ReadLimits,
    scratch_dir: Path,
) -> Iterator[ReadItem]:
    """Every record and rejection of `source` read as `fmt`, in file order.

    A damaged compressed stream ends the file with `Rejection(reason="corrupt_file")` at the
    position after the last one reached. Once the file is read, `source.sha256` is valid and
    `ensure_unchanged()` has passed (else `SourceChangedError` is raised).
    """
    spec = _spec(fmt)
    resolved = resolve_options(fmt, options)
    if source.size > 0:
        items = spec.read(source, resolved, limits, scratch_dir)
        if damage := source.damage():
            mark = spec.raw_mark(resolved) if spec.raw_mark is not None else {}
            items = _quarantine_damaged(items, damage, fmt == "jsonl", mark)
        if fmt in _EXACT_TRUNCATION:
            yield from items
        else:
            last = 0
            try:
                for item in items:
                    last = item[0] if type(item) is tuple else item.position  # type: ignore[union-attr]
                    yield item
            except TruncatedInput as exc:
                yield Rejection(
                    position=last + 1,
                    reason="corrupt_file",
                    detail=str(exc),
                    unread_rest=not exc.cut,
                )
    source.hash_remaining()
    source.ensure_unchanged()


def _quarantine_damaged(
    items: Iterator[ReadItem],
    damage: list[DamagedLines],
    per_line: bool,
    mark: dict[str, str],
) -> Iterator[ReadItem]:
    """Every record a damaged gzip member / zstd frame touches becomes `corrupt_file`, with
    its raw bytes (`mark`: the fields saying a good record's raw is its text encoded again,
    `ReaderSpec.raw_mark`). JSONL: the records on the member's lines (records of members that
    verify are kept). Other formats, whose records cannot be mapped to lines: every record of
    the file. An input the reader rejected there is `corrupt_file` too, as the damage may be
    why (its raw kept, the reader's reason in the detail); a `corrupt_file` of its own (a
    stream cut short) stays as it is."""
    for item in items:
        if type(item) is not tuple:
            rejection: Rejection = item  # type: ignore[assignment]
            hit = _damage_at(damage, rejection.position) if per_line else damage[0]
            if hit is None or rejection.reason == "corrupt_file":
                yield rejection
            else:
                yield replace(
                    rejection,
                    reason="corrupt_file",
                    detail=f"{_damaged_detail(hit, per_line)} (the reader found "
                    f"{rejection.reason}: {rejection.detail})",
                )
            continue
        position, value, raw = item
        hit = _damage_at(damage, position) if per_line else damage[0]
        if hit is None:
            yield item
            continue
        yield Rejection(
            position=position,
            reason="corrupt_file",
            detail=_damaged_detail(hit, per_line),
            raw=raw if raw is not None else orjson.dumps(value),
            **({} if per_line or raw is None else mark),
        )


def _damaged_detail(hit: DamagedLines, per_line: bool) -> str:
    scope = "its records" if per_line else "every record of this file"
    return f"{hit.detail}; {scope} are quarantined, none is trusted"


def _damage_at(damage: list[DamagedLines], line: int) -> DamagedLines | None:
    """The first of `damage` holding `line`, found by bisection: `damaged_lines` lists the
    members in stream order, so both their `first` and `last` lines never decrease (a `last`
    of None, to the end, only at the end). The first whose `last` reaches `line` is the only
    candidate: those before it end before `line`, those after it start no earlier."""
    i = bisect_left(damage, line, key=_last_line)
    if i < len(damage) and damage[i].first <= line:
        return damage[i]
    return None


def _last_line(damaged: DamagedLines) -> float:
    return float("inf") if damaged.last is None else damaged.last
