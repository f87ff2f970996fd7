"""A stdout or stderr that cannot be written, whatever the reason, ends a command one way.

`jsonl-assets build | head` closes the pipe (EPIPE); `> /dev/full`, a log file on a full
disk or a dead terminal fail with ENOSPC or EIO. `guard()` wraps `sys.stdout` so that any
OSError of a write or flush is a `StdoutLost`, which the CLI handles in one place: a build
stops as for SIGPIPE (its workers killed, `interrupted; rerun to resume`, nothing half
published), `verify` and `report` stop; every command exits 141 (128 + SIGPIPE), and for any
error but a closed pipe prints one line on stderr, `cannot write to stdout: <reason>`.

stderr only explains: `guard()` wraps it so that a write that fails (its pipe closed, the
disk full) sends it, and everything written to it later, to /dev/null. The command goes on
and exits with its own code (0, 1, 2...), without a traceback. A SIGPIPE then stops a build
only when stdout is lost (`stdout_lost`), never for stderr (`2>&1 | head` loses both: 141).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import select
import signal
import stat
import sys
from typing import Any, Final, TextIO

from jsonl_assets.core.picklable_errors import Picklable

EXIT_STDOUT_LOST: Final = 128 + signal.SIGPIPE
# One byte shared with the forked workers: set once this process or one of them failed to
# write to stdout (a worker then sends the CLI a SIGPIPE, see `stdout_lost`).
_LOST: Final = mmap.mmap(-1, 1)


class StdoutLost(Picklable):
    """A write to stdout failed (`error`)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(f"cannot write to stdout: {error.strerror or error}")
        self.error = error

    @property
    def closed(self) -> bool:
        """Its reader went away (`| head`): nothing to say about it."""
        return isinstance(self.error, BrokenPipeError)


class _Guarded:
    """`sys.stdout`, its write errors raised as `StdoutLost`."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            mark_lost()
            raise StdoutLost(exc) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            mark_lost()
            raise StdoutLost(exc) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _QuietStderr:
    """`sys.stderr`, sent to /dev/null at its first failed write or flush (see the module)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError:
            _drop_stderr(self._stream)
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError:
            _drop_stderr(self._stream)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _drop_stderr(stream: TextIO) -> None:
    """fd 2 becomes /dev/null (for this process and what it starts later), and what `stream`
    still buffers goes there."""
    _to_devnull(2)
    with contextlib.suppress(OSError, ValueError):
        stream.flush()


def _to_devnull(fd: int) -> None:
    null = os.open(os.devnull, os.O_WRONLY)
    if null != fd:
        os.dup2(null, fd)
        os.close(null)


def _open_std(fd: int) -> TextIO:
    """The text stream of `fd`, which a command started with it closed (`>&-`, `2>&-`) gets
    as /dev/null: no file the command opens takes that fd, and what a child process writes
    there is dropped."""
    try:
        os.fstat(fd)
    except OSError:
        _to_devnull(fd)
    # stderr line-buffered, as Python's own
    return open(fd, "w", buffering=1 if fd == 2 else -1, closefd=False)


def mark_lost() -> None:
    """Record that stdout cannot be written (seen by the CLI and its forked workers)."""
    _LOST[0] = 1


def stdout_lost() -> bool:
    """Whether stdout is lost: a write to it failed here or in a worker, or it is a pipe
    whose reader went away. A SIGPIPE when it is not came from a write to stderr."""
    if _LOST[0]:
        return True
    with contextlib.suppress(OSError, ValueError):
        if stat.S_ISFIFO(os.fstat(1).st_mode) or stat.S_ISSOCK(os.fstat(1).st_mode):
            poller = select.poll()
            poller.register(1, select.POLLOUT)
            return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))
    return False


def guard() -> None:
    """Route stdout's write errors to `StdoutLost`, and make stderr's harmless. Started with
    stdout (or stderr) closed (`>&-`: `sys.stdout` is None), it is /dev/null: output is
    dropped, no file the build opens takes fd 1 (and what a child process writes there), and
    Dagster's log capture, which mirrors stdout through `tail` processes, finds one to write
    to."""
    if sys.stdout is None:
        sys.stdout = _open_std(1)
    if sys.stderr is None:
        sys.stderr = _open_std(2)
    if not isinstance(sys.stdout, _Guarded):
        sys.stdout = _Guarded(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, _QuietStderr):
        sys.stderr = _QuietStderr(sys.stderr)  # type: ignore[assignment]


def flush() -> None:
    """Flush stdout, if there is one (a failure is a `StdoutLost`)."""
    if sys.stdout is not None:
        sys.stdout.flush()


def say(lost: StdoutLost | OSError) -> None:
    """The one line on stderr for a lost stdout (none for a closed pipe)."""
    error = lost.error if isinstance(lost, StdoutLost) else lost
    if not isinstance(error, BrokenPipeError):
        line = f"cannot write to stdout: {error.strerror or error}\n"
        with contextlib.suppress(OSError):  # stderr gone too: the exit code still says it
            os.write(2, line.encode("utf-8", "backslashreplace"))


def discard() -> None:
    """Send what stdout still buffers to /dev/null: the exit's flush then fails no more."""
    _to_devnull(1)
