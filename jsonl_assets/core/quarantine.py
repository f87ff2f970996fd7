"""The exclusion writer: every rejected input, with stage, reason, detail, trace and raw bytes
(what the stage judged: the input as read, the reader's raw record, or, for the validated
stage, the spec record made from it; the README's "Quarantine" says which).

One JSONL file per stage and partition, `<quarantine_dir>/<objective>/<split>/<stage>.jsonl`,
written under a temporary name and renamed when the stage finishes, so a killed stage never
leaves a half-written quarantine file and a rerun writes the same bytes again.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import orjson

from jsonl_assets.core.file_names import shown
from jsonl_assets.core.store.atomic_files import write_partial
from jsonl_assets.core.store.base import AtomicWrite, store_for
from jsonl_assets.core.traces import raw_fields

EXAMPLES_PER_REASON: Final = 5


class QuarantineWriter:
    """Collects a stage's rejections; counts them by reason (in all and per source) and keeps
    a few example traces."""

    def __init__(self, path: Path, stage: str) -> None:
        self.path = path
        self.stage = stage
        self.by_reason: Counter[str] = Counter()
        # Per source and reason: what each source's rate checks count.
        self.by_source: dict[str, Counter[str]] = {}
        self.source_examples: dict[str, dict[str, dict[str, Any]]] = {}  # the first trace
        self.examples: dict[str, list[dict[str, Any]]] = {}
        self._handle: AtomicWrite = store_for(path).open_atomic(path)

    @property
    def count(self) -> int:
        return sum(self.by_reason.values())

    def add(
        self,
        reason: str,
        detail: str,
        trace: dict[str, Any],
        raw: bytes | None = None,
        *,
        raw_truncated: bool = False,
        raw_size: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        entry: dict[str, Any] = {
            "stage": self.stage,
            "reason": reason,
            "detail": detail,
            "trace": trace,
        }
        if extra:
            entry.update(extra)
        entry.update(raw_fields(raw))
        if raw_truncated:
            entry["raw_truncated"] = True
        if raw_size is not None:
            entry["raw_size"] = raw_size
        self.add_line(orjson.dumps(entry) + b"\n", reason, trace)

    def add_line(self, line: bytes, reason: str, trace: dict[str, Any]) -> None:
        """An entry already serialised (by another writer: a chunk's quarantine)."""
        write_partial(self._handle, line, self.path)
        self.by_reason[reason] += 1
        source = self.by_source.get(trace["source"])
        if source is None:
            source = self.by_source[trace["source"]] = Counter()
            self.source_examples[trace["source"]] = {}
        if not source[reason]:
            self.source_examples[trace["source"]][reason] = trace
        source[reason] += 1
        examples = self.examples.setdefault(reason, [])
        if len(examples) < EXAMPLES_PER_REASON:
            examples.append(trace)

    def add_lines_of(self, path: Path) -> None:
        """Every entry of another writer's committed file (a chunk's), in order."""
        with store_for(path).open_read(path) as handle:
            for line in handle:
                entry = orjson.loads(line)
                self.add_line(line, entry["reason"], entry["trace"])

    def commit(self) -> None:
        """Make the file visible under its final name (an empty file when nothing was rejected)."""
        self._handle.commit()

    def abort(self) -> None:
        self._handle.abort()

    def __enter__(self) -> QuarantineWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def summary(self) -> dict[str, Any]:
        return {
            "path": shown(str(self.path)),  # shown only (a name that is not UTF-8 escaped)
            "count": self.count,
            "by_reason": dict(sorted(self.by_reason.items())),
            "examples": {k: self.examples[k] for k in sorted(self.examples)},
            "by_source": {
                name: dict(sorted(self.by_source[name].items())) for name in sorted(self.by_source)
            },
            "source_examples": {
                name: dict(sorted(self.source_examples[name].items()))
                for name in sorted(self.source_examples)
            },
        }
