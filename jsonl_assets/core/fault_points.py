"""Named kill points, for crash tests: the process kills itself (SIGKILL) at an exact moment.

Set `JSONL_ASSETS_KILL_AT=<point>[:<n>]` and the process sends itself SIGKILL the n-th time
(default: the first) that the core calls `reached("<point>")`. Nothing is flushed or cleaned
up, exactly as with `kill -9` or a power cut. In a worker process of `jsonl-assets build` the
CLI is killed first, so the whole build dies as with `kill -9` of the CLI. The points:

| point | where |
|---|---|
| `extract.batch` | the one pass: 4096 records of a source file read and handed on |
| `extract.file` | extraction: one file done, the next not started |
| `transform.batch`, `validate.batch` | a batch (a 4 MiB chunk of input) of that stage written |
| `chunk.batch` | a chunk worker's batch written to its (uncommitted) chunk files |
| `before_rename:<name>` | an atomic file (a stage marker such as `extracted.json`, the manifest candidate or `metadata.json`) fully written and fsynced under its temporary name, not yet renamed |
| `marker:<stage>` | a stage's marker committed: between that stage and the next (`marker:staged`: the merge's shards staged, its validated marker not yet written; `marker:chunk`: a chunk finished) |
| `shard.frame` | a frame written into the shard being filled (mid-shard), staged by the one pass or written by the shards stage |
| `shard.renamed` | a shard renamed to its final name (in the staging folder, or moved into the package), not yet in the journal |
| `shard.journaled` | a shard committed in the package and journaled: between shards |
| `upload.part` | a part of an upload to object storage sent (S3 multipart, GCS resumable, Azure block), the upload not completed |
| `before_publish` | the package verified, metadata.json not yet written (or PUT) |

`JSONL_ASSETS_PAUSE_AT=<point>[:<n>]` (tests only) pauses instead: the process writes its pid
to the file named by `JSONL_ASSETS_PAUSE_FILE` and sleeps until that file is removed, so a test
can signal or kill a build at an exact moment, or let it go on.

The variables are read once, at import. When they are unset, `reached` returns at once (two
comparisons), so the calls cost nothing measurable in the hot paths.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Final

ENV_VAR: Final = "JSONL_ASSETS_KILL_AT"
PAUSE_ENV_VAR: Final = "JSONL_ASSETS_PAUSE_AT"
PAUSE_FILE_ENV_VAR: Final = "JSONL_ASSETS_PAUSE_FILE"


def parse(spec: str) -> tuple[str | None, int]:
    """`"shard.frame:3"` -> `("shard.frame", 3)`; `"marker:shards"` -> `("marker:shards", 1)`."""
    if not spec:
        return None, 1
    point, sep, count = spec.rpartition(":")
    if sep and count.isascii() and count.isdigit():
        return point, max(1, int(count))
    return spec, 1


_TARGET, _NTH = parse(os.environ.get(ENV_VAR, ""))
# A worker process of `jsonl-assets build` names its parent here: a kill point kills the whole
# build, as `kill -9` of the CLI would (the worker dies with it).
kill_also: list[int] = []
_PAUSE, _PAUSE_NTH = parse(os.environ.get(PAUSE_ENV_VAR, ""))
_seen = 0
_pause_seen = 0


def reached(point: str) -> None:
    """Kill this process if `point` is the configured kill point, reached for the n-th time
    (or pause it there, if it is the configured pause point)."""
    if point != _TARGET and point != _PAUSE:
        return
    global _seen, _pause_seen
    if point == _PAUSE:
        _pause_seen += 1
        if _pause_seen == _PAUSE_NTH:
            _pause()
    if point == _TARGET:
        _seen += 1
        if _seen >= _NTH:
            for pid in kill_also:
                os.kill(pid, signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)


def _pause() -> None:
    path = os.environ.get(PAUSE_FILE_ENV_VAR)
    if not path:
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(f"{os.getpid()}\n")
    os.replace(tmp, path)  # the test sees the whole pid or nothing
    while os.path.exists(path):
        time.sleep(0.05)
