"""A partition's work dir, `<work_dir>/<objective>/<split>/`, and its stage markers.

* `<stage>.json` - a stage's marker: its input fingerprint and its typed report. A stage whose
  marker matches the current fingerprint is reused instead of run again.
* `validated.ids.arrow` - the accepted ids' 128-bit digests (for the leakage check);
  `staged/` - the shards the one-pass build wrote, adopted by the shards step.

Files are written under temporary names and renamed, markers last, so a killed stage is
simply redone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.fault_points import reached
from jsonl_assets.core.store.base import read_bytes, store_for, write_bytes

CHUNK: Final = 4 << 20
STAGE_FORMAT_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class PartitionDirs:
    """Where one partition's work, quarantine and shards live."""

    objective: str
    split: str
    work: Path
    quarantine: Path
    package: Path

    @property
    def key(self) -> str:
        return f"{self.objective}|{self.split}"

    @property
    def family_prefix(self) -> str:
        return f"{self.objective}-{self.split}"

    def file(self, name: str) -> Path:
        return self.work / name

    @property
    def scratch(self) -> Path:
        return self.work / "scratch"


def partition_dirs(
    work_dir: Path, quarantine_dir: Path, package_dir: Path, objective: str, split: str
) -> PartitionDirs:
    return PartitionDirs(
        objective=objective,
        split=split,
        work=work_dir / objective / split,
        quarantine=quarantine_dir / objective / split,
        package=package_dir,
    )


def fingerprint(*parts: Any) -> str:
    """sha256 over the canonical JSON of `parts` (the inputs that determine a stage's output)."""
    payload = orjson.dumps([STAGE_FORMAT_VERSION, *parts], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(payload).hexdigest()


def read_marker(path: Path, expected_fingerprint: str) -> dict[str, Any] | None:
    """The report of a finished stage with these inputs, or None if it must run."""
    try:
        marker = orjson.loads(read_bytes(path))
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    if marker.get("fingerprint") != expected_fingerprint:
        return None
    return marker.get("report")


def write_marker(path: Path, stage_fingerprint: str, report: dict[str, Any]) -> None:
    write_bytes(
        path,
        orjson.dumps(
            {"fingerprint": stage_fingerprint, "report": report}, option=orjson.OPT_INDENT_2
        ),
    )
    reached("marker:" + path.stem)


class CountingSink:
    """Counts the bytes a stage's output would hold (its report's size); at commit removes a
    hand-off file an older version of the build left under that name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bytes_written = 0

    def write(self, data: bytes) -> None:
        self.bytes_written += len(data)

    def write_many(self, items: list[bytes]) -> None:
        self.bytes_written += sum(map(len, items))

    def commit(self) -> None:
        store_for(self.path).remove(self.path)

    def abort(self) -> None:
        pass
