"""sha256 of whole source files, remembered for the life of the process by file identity.

A partition run needs its source files' sha256s several times: the `raw_sources`
observation that starts the run and the extracted stage's fingerprint (both through
`source_fingerprints.partition_snapshot`, whose record beside the partition's work files
carries them from build to build), the chunk plan, and the extraction (which needs each
file's sha256 before it reads the file, see record_stages.py; a chunk is told it by the plan,
ChunkPlan.opened). Each asks here first, so a file is hashed once. A hash is reused only for
the same path with the same size, mtime, inode and ctime - the identity the observation
already trusts between runs - so a file rewritten since is hashed again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from jsonl_assets.core.store.base import FileStat

_LIMIT: Final = 4096
_known: dict[tuple[str, int, int, int, int], str] = {}


def _key(path: Path, st: FileStat | os.stat_result) -> tuple[str, int, int, int, int]:
    if isinstance(st, FileStat):
        return (os.fspath(path), st.size, st.mtime_ns, st.inode, st.ctime_ns)
    return (os.fspath(path), st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


def remember(path: Path, st: FileStat | os.stat_result, sha256: str) -> None:
    """Record the sha256 of `path`, as it was when `st` was taken (before it was read)."""
    if len(_known) >= _LIMIT:
        _known.clear()
    _known[_key(path, st)] = sha256


def known(path: Path, st: FileStat | os.stat_result) -> str | None:
    """The sha256 recorded for `path` with exactly this identity, if any."""
    return _known.get(_key(path, st))
