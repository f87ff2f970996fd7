"""A file's rejections, held until the file's sha256 is known, in bounded memory.

Every quarantine trace names the sha256 of its file, which is known only once the whole file
has been read, so the extract stage must hold a file's rejections until then. A rejection
carries its raw bytes (up to `max_record_bytes`, 16 MiB by default) and a file may be nothing
but bad lines, so past `memory_bytes` of held data the rejections go to an anonymous
temporary file (deleted on close, and by the kernel if the process is killed) and are read
back one at a time, in the order they were added.
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

import orjson

from jsonl_assets.core.traces import Rejection

MEMORY_BYTES: Final = 4 << 20
_HEADER: Final = struct.Struct("<IQ")  # length of the JSON fields, length of raw


class PendingRejections:
    """Rejections of one file in reading order; `keep=False` only counts them (they are charged
    to another partition)."""

    def __init__(self, scratch_dir: Path, keep: bool = True, memory_bytes: int = MEMORY_BYTES):
        self._scratch = scratch_dir
        self._keep = keep
        self._limit = memory_bytes
        self._held: list[Rejection] = []
        self._held_bytes = 0
        self._spill: IO[bytes] | None = None
        self._count = 0
        self.spilled = 0
        # Whether a rejection left bytes of the file unread (Rejection.leaves_unread).
        self.unread = False

    def __len__(self) -> int:
        return self._count

    def append(self, rejection: Rejection) -> None:
        self._count += 1
        self.unread = self.unread or rejection.leaves_unread
        if not self._keep:
            return
        if self._spill is None:
            self._held.append(rejection)
            self._held_bytes += len(rejection.raw or b"") + len(rejection.detail)
            if self._held_bytes <= self._limit:
                return
            self._scratch.mkdir(parents=True, exist_ok=True)
            # closed in close(); the file has no name, so nothing is left behind if killed
            self._spill = tempfile.TemporaryFile(dir=self._scratch, prefix="rejections-")  # noqa: SIM115
            held, self._held = self._held, []
            for r in held:
                self._write(r)
            return
        self._write(rejection)

    def _write(self, r: Rejection) -> None:
        assert self._spill is not None
        fields = orjson.dumps(
            [
                r.position,
                r.reason,
                r.detail,
                r.raw_truncated,
                r.raw_size,
                r.raw is not None,
                r.unread_rest,
                r.raw_reencoded,
            ]
        )
        raw = r.raw or b""
        self._spill.write(_HEADER.pack(len(fields), len(raw)) + fields)
        self._spill.write(raw)
        self.spilled += 1

    def __iter__(self) -> Iterator[Rejection]:
        yield from self._held
        if self._spill is None:
            return
        spill = self._spill
        spill.flush()
        spill.seek(0)
        while header := spill.read(_HEADER.size):
            n_fields, n_raw = _HEADER.unpack(header)
            position, reason, detail, truncated, size, has_raw, unread, reencoded = orjson.loads(
                spill.read(n_fields)
            )
            raw = spill.read(n_raw)
            yield Rejection(
                position,
                reason,
                detail,
                raw if has_raw else None,
                truncated,
                size,
                unread,
                reencoded,
            )

    def close(self) -> None:
        self._held = []
        if self._spill is not None:
            self._spill.close()
            self._spill = None
