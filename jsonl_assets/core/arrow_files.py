"""Arrow IPC files this project writes in its work dir (record ids), read back with polars.

polars treats a path as a glob by default (`*`, `?`, `[...]`) and may read `key=value`
folders as hive partitions: a work dir named `work[1]` would match nothing, or a sibling
`work1` and read its files instead. Every scan of a file we built goes through `scan_ipc_file`:
that one file, its name taken literally, and only once it opened as a regular file through
the store (polars' own open of a FIFO put in its place would wait for a writer forever).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from jsonl_assets.core.polars_paths import polars_path
from jsonl_assets.core.store.base import store_for


def scan_ipc_file(path: Path) -> pl.LazyFrame:
    """The one Arrow IPC file at `path` (never a glob, nor hive partitions). A FIFO, a device
    or a folder in its place raises the store's OSError naming it, here, not a hang later."""
    store_for(path).open_read(path).close()
    return pl.scan_ipc(polars_path(path), glob=False, hive_partitioning=False)
