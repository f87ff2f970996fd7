"""glibc malloc tuning for flat memory on object storage: blocks of 1 MiB and more are
mmapped, and returned to the system as soon as they are freed.

glibc raises its mmap threshold to the size of the largest mmapped block freed (up to 32 MiB),
so once a multi-MiB buffer (a read block, a frame, a multipart part, a joined batch) has been
freed, later ones come from the heap arenas, where several threads' churn of them leaves
memory that is never returned. A fixed threshold also turns that adjustment off (measured:
`bench/object_storage_memory.py --size-gb 1`, peak RSS 411 -> 229 MB at the same speed). A
no-op where the C library has no `mallopt` (musl, macOS).

Only builds that touch object storage set it: s3fs's multi-MiB part buffers are what stayed
in the arenas (411 MB without it). On local disk it saved little (peak 265 -> 244 MB on a
1 GB source) for 19% more wall time (every large buffer mmapped afresh: page faults).
"""

from __future__ import annotations

import ctypes
from typing import Final

M_MMAP_THRESHOLD: Final = -3  # glibc's mallopt parameter
MMAP_THRESHOLD_BYTES: Final = 1 << 20

_tuned: list[bool] = []


def tune_malloc() -> None:
    """Set the mmap threshold once per process (a forked child inherits it)."""
    if _tuned:
        return
    _tuned.append(True)
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
