"""Readers: every input format, streamed, plain or compressed; the `extracted` stage's input.

`read_source(source, fmt, options, limits, scratch_dir)` yields, in file order, good records
`(position, value, raw)` and `Rejection`s (see `base.py`). Compression is detected from magic
bytes, never from the extension. A damaged gzip/zstd stream ends the file with a
`corrupt_file` rejection after every good record before the damage; a member that fails its
checksum (found by `SourceFile.damage()` before the read) turns its records into `corrupt_file`
rejections (JSONL: the records on its lines; other formats: every record of the file). At the end the source is
checked to be unchanged (`SourceChangedError` propagates: the caller fails the partition).

Reason codes emitted by readers (stable): see `REASONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.compression import DamagedLines, TruncatedInput
from jsonl_assets.core.readers import csv_rows, json_array, jsonl, parquet, text
from jsonl_assets.core.readers.base import OptionSpec, ReaderSpec, ReadItem
from jsonl_assets.core.readers.source_file import SourceChangedError, SourceFile
from jsonl_assets.core.traces import Rejection

__all__ = [
    "COMPRESSION_SUFFIXES",
    "READERS",
    "REASONS",
    "OptionSpec",
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

_CHECKS: Final[dict[str, Callable[[Mapping[str, Any]], None]]] = {
    "json_array": json_array.check_options,
    "csv": csv_rows.check_options,
    "tsv": csv_rows.check_options,
    "parquet": parquet.check_options,
    "text": text.check_options,
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
    """The reader's options with defaults filled in; ValueError names what is wrong."""
    spec = _spec(fmt)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        valid = ", ".join(sorted(spec.options)) or "none"
        raise ValueError(f"unknown option(s) {unknown} for format {fmt!r}; valid options: {valid}")
    resolved: dict[str, Any] = {}
    for name in sorted(spec.options):
        opt = spec.options[name]
        value = options.get(name, opt.default)
        if name in options:
            _check_type(fmt, name, value, opt)
        resolved[name] = value
    check = _CHECKS.get(fmt)
    if check is not None:
        check(resolved)
    return resolved


def _check_type(fmt: str, name: str, value: Any, opt: OptionSpec) -> None:
    # bool is an int in Python; an int option must not accept true/false.
    ok = isinstance(value, opt.types) and not (isinstance(value, bool) and bool not in opt.types)
    if not ok:
        wanted = " or ".join("null" if t is type(None) else t.__name__ for t in opt.types)
        raise ValueError(
            f"option {name!r} of format {fmt!r} must be {wanted}, not {type(value).__name__}"
        )
    if opt.choices is not None and value not in opt.choices:
        raise ValueError(
            f"option {name!r} of format {fmt!r} must be one of {list(opt.choices)}, not {value!r}"
        )


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
            items = _quarantine_damaged(items, damage, per_line=fmt == "jsonl")
        if fmt in _EXACT_TRUNCATION:
            yield from items
        else:
            last = 0
            try:
                for item in items:
                    last = item[0] if type(item) is tuple else item.position  # type: ignore[union-attr]
                    yield item
            except TruncatedInput as exc:
                yield Rejection(position=last + 1, reason="corrupt_file", detail=str(exc))
    source.hash_remaining()
    source.ensure_unchanged()


def _quarantine_damaged(
    items: Iterator[ReadItem], damage: list[DamagedLines], per_line: bool
) -> Iterator[ReadItem]:
    """Every record a damaged gzip member / zstd frame touches becomes `corrupt_file`, with
    its raw bytes. JSONL: the records on the member's lines (records of members that verify
    are kept). Other formats, whose records cannot be mapped to lines: every record of the
    file."""
    for item in items:
        if type(item) is not tuple:
            yield item
            continue
        position, value, raw = item
        hit = next((d for d in damage if position in d), None) if per_line else damage[0]
        if hit is None:
            yield item
            continue
        scope = "its records" if per_line else "every record of this file"
        yield Rejection(
            position=position,
            reason="corrupt_file",
            detail=f"{hit.detail}; {scope} are quarantined, none is trusted",
            raw=raw if raw is not None else orjson.dumps(value),
        )
