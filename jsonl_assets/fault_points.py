"""Named kill points, for crash tests: the process kills itself (SIGKILL) at an exact moment.

Set `JSONL_ASSETS_KILL_AT=<point>[:<n>]` and the process sends itself SIGKILL the n-th time
(default: the first) that the core calls `reached("<point>")`. Nothing is flushed or cleaned
up, exactly as with `kill -9` or a power cut. The points:

| point | where |
|---|---|
| `extract.batch` | extraction: 4096 records of a file written to the (uncommitted) work file |
| `extract.file` | extraction: one file done, the next not started |
| `transform.batch`, `validate.batch` | a batch (a 4 MiB chunk of input) of that stage written |
| `before_rename:<name>` | an atomic file (a stage marker such as `extracted.json`, the manifest candidate or `metadata.json`) fully written and fsynced under its temporary name, not yet renamed |
| `marker:<stage>` | a stage's marker committed: between that stage and the next (`marker:staged`: the one pass's shards staged, its validated marker not yet written) |
| `shard.frame` | a frame written into the shard being filled (mid-shard), staged by the one pass or written by the shards stage |
| `shard.renamed` | a shard renamed to its final name (in the staging folder, or moved into the package), not yet in the journal |
| `shard.journaled` | a shard committed in the package and journaled: between shards |

The variable is read once, at import. When it is unset, `reached` returns at once (one
comparison), so the calls cost nothing measurable in the hot paths.
"""

from __future__ import annotations

import os
import signal
from typing import Final

ENV_VAR: Final = "JSONL_ASSETS_KILL_AT"


def parse(spec: str) -> tuple[str | None, int]:
    """`"shard.frame:3"` -> `("shard.frame", 3)`; `"marker:shards"` -> `("marker:shards", 1)`."""
    if not spec:
        return None, 1
    point, sep, count = spec.rpartition(":")
    if sep and count.isdigit():
        return point, max(1, int(count))
    return spec, 1


_TARGET, _NTH = parse(os.environ.get(ENV_VAR, ""))
_seen = 0


def reached(point: str) -> None:
    """Kill this process if `point` is the configured kill point, reached for the n-th time."""
    if _TARGET is None or point != _TARGET:
        return
    global _seen
    _seen += 1
    if _seen >= _NTH:
        os.kill(os.getpid(), signal.SIGKILL)
