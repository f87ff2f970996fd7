"""One build at a time writes into a package dir.

The lock is `<output.dir>/.jsonl-assets.lock`, a kernel `flock` taken through filelock: two
configs that share an output dir see the same lock whatever their work dirs, and the kernel
drops it when its holder dies (kill -9 included), so a stale lock is simply taken over. Who
holds it (pid, host, start time, a token, and what it is: `jsonl-assets build`,
`jsonl-assets report`, a run's `shards` or `manifest` step) is in `.jsonl-assets.lock.json`
beside it, replaced atomically, so a refusal names what to wait for. Both files are hidden, listed nowhere and removed on release; the verifier and the
orphan removal never look at them.

A package on object storage (`s3://...`) cannot hold a kernel lock: its lock is a local
folder keyed by the URL, `<temp dir>/jsonl-assets-locks/<sha256 of the URL>/`, so the builds
of one machine take turns; builds on other machines are kept apart by the content-addressed
shard folders and the conditional publish of metadata.json (snapshot_base.py).

`jsonl-assets build` holds the lock for its whole build and passes its token to the runs it
starts (environment variable JSONL_ASSETS_PACKAGE_LOCK): their `shards` and `manifest` steps
see that the holder is their own build and go on. Any other run's steps take the lock.
`jsonl-assets report` holds it too, while it reads the package: a report and a build of one
package dir exclude each other.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import secrets
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import orjson
from filelock import FileLock, Timeout

from jsonl_assets.core.store.base import read_bytes
from jsonl_assets.core.store.url import is_url

LOCK_NAME: Final = ".jsonl-assets.lock"
HOLDER_NAME: Final = ".jsonl-assets.lock.json"
LOCK_FILES: Final = (LOCK_NAME, HOLDER_NAME)  # what the lock leaves in the package dir
TOKEN_ENV: Final = "JSONL_ASSETS_PACKAGE_LOCK"
BUILD: Final = "jsonl-assets build"
REPORT: Final = "jsonl-assets report"


def step_command(step: str) -> str:
    """What a run's step holding the lock is called in its record (`shards`, `manifest`)."""
    return f"the {step} step of a run"


class PackageBusyError(Exception):
    """Another live build holds the package dir."""


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    started: str  # UTC, ISO 8601
    token: str
    command: str = ""  # what holds it (BUILD, REPORT, step_command); "" in older records

    def describe(self) -> str:
        who = f"pid {self.pid} on host {self.host}, started {self.started}"
        if self.command.startswith("jsonl-assets "):
            return f"`{self.command}`, {who}"
        return f"{self.command}, {who}" if self.command else who

    def kind(self) -> str:
        """What the package is locked by, for a refusal: a report, or another build."""
        if self.command == REPORT:
            return "a report (`jsonl-assets report`; a report and a build exclude each other)"
        return "another build"


def lock_folder(package: Path) -> Path:
    """Where the package's lock files are: the package dir, or for a URL a local folder."""
    if not is_url(package):
        return package
    digest = hashlib.sha256(os.fspath(package).encode()).hexdigest()[:32]
    return Path(tempfile.gettempdir()) / "jsonl-assets-locks" / digest


def read_holder(package: Path) -> Holder | None:
    """Who holds (or, if no one holds the lock, last held without releasing) the package."""
    try:
        data = orjson.loads(read_bytes(lock_folder(package) / HOLDER_NAME))
        command = data.get("command", "")
        return Holder(
            int(data["pid"]),
            str(data["host"]),
            str(data["started"]),
            str(data["token"]),
            command if isinstance(command, str) else "",
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


class PackageLock:
    """The lock of one package dir. `acquire` returns the holder a dead builder left, if any."""

    def __init__(self, package: Path, command: str = "") -> None:
        self.package = package
        self.command = command
        self.folder = lock_folder(package)
        self.path = self.folder / LOCK_NAME
        # fallback_to_soft=False: a filesystem without flock fails loudly rather than getting
        # a marker file that a killed builder would leave locked for ever.
        self._lock = FileLock(self.path, thread_local=False, fallback_to_soft=False)
        self.token = secrets.token_hex(16)
        self._inode: int | None = None
        self._held = False

    def acquire(
        self, timeout: float = 0.0, on_wait: Callable[[Holder | None], None] | None = None
    ) -> Holder | None:
        """Take the lock: fail at once (`timeout` 0), wait up to `timeout` seconds, or for ever
        (a negative or infinite `timeout`). Raises PackageBusyError naming the holder."""
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            if timeout == 0:
                raise PackageBusyError(self._busy_message()) from None
            if on_wait is not None:
                on_wait(read_holder(self.package))
            try:
                self._lock.acquire(timeout=-1 if timeout == float("inf") else timeout)
            except Timeout:
                raise PackageBusyError(self._busy_message(timeout)) from None
        self._held = True
        self._inode = os.stat(self.path).st_ino
        stale = read_holder(self.package)  # only a dead holder leaves its record behind
        holder = Holder(
            os.getpid(),
            socket.gethostname(),
            datetime.now(UTC).isoformat(timespec="seconds"),
            self.token,
            self.command,
        )
        for left in self.folder.glob(f"{glob.escape(HOLDER_NAME)}.*.tmp"):
            with contextlib.suppress(OSError):  # a killed or failed holder's: only holders write
                left.unlink()
        tmp = self.folder / f"{HOLDER_NAME}.{os.getpid()}.tmp"
        try:
            tmp.write_bytes(orjson.dumps(asdict(holder)))
            os.replace(tmp, self.folder / HOLDER_NAME)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return stale

    def release(self) -> None:
        """Remove the holder record, then the lock file (a waiter that opened the removed file
        sees it unlinked and opens the new one), then drop the lock. Idempotent."""
        if not self._held:
            return
        self._held = False
        self._remove_files()
        self._lock.release()

    def abandon(self) -> None:
        """For a process about to exit at once (a signal handler): remove the files, and let the
        exit drop the kernel lock (no filelock call, whatever the interrupted thread held)."""
        if self._held:
            self._remove_files()

    def _remove_files(self) -> None:
        with contextlib.suppress(OSError):
            holder = read_holder(self.package)
            if holder is not None and holder.token == self.token:
                (self.folder / HOLDER_NAME).unlink()
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self._inode:
                self.path.unlink()

    def _busy_message(self, waited: float | None = None) -> str:
        holder = None
        for _ in range(20):  # the holder writes its record just after taking the lock
            if (holder := read_holder(self.package)) is not None:
                break
            time.sleep(0.05)
        who = holder.describe() if holder else f"a process that left no record in {HOLDER_NAME}"
        kind = holder.kind() if holder else "another build"
        after = f" (waited {waited:.0f} s)" if waited else ""
        return f"{self.package} is locked by {kind}: {self.path} is held by {who}{after}"


def held_by_this_build(package: Path) -> bool:
    """True in the runs (in-process or worker processes) of the `jsonl-assets build` that
    holds the package: its token, in our environment, is the holder's."""
    token = os.environ.get(TOKEN_ENV)
    holder = read_holder(package)
    return bool(token) and holder is not None and holder.token == token


@contextlib.contextmanager
def package_lock(package: Path, timeout: float = 0.0, command: str = "") -> Iterator[None]:
    """Hold the package's lock for a step of a Dagster run (or `jsonl-assets report`:
    `command` says which, in the holder's record), unless this run's own `jsonl-assets build`
    holds it already."""
    if held_by_this_build(package):
        yield
        return
    lock = PackageLock(package, command)
    lock.acquire(timeout)
    try:
        yield
    finally:
        lock.release()
