"""A stdout that cannot be written, whatever the reason, ends a command one way.

`jsonl-assets build | head` closes the pipe (EPIPE); `> /dev/full`, a log file on a full
disk or a dead terminal fail with ENOSPC or EIO. `guard()` wraps `sys.stdout` so that any
OSError of a write or flush is a `StdoutLost`, which the CLI handles in one place: a build
stops as for SIGPIPE (its workers killed, `interrupted; rerun to resume`, nothing half
published), `verify` and `report` stop; every command exits 141 (128 + SIGPIPE), and for any
error but a closed pipe prints one line on stderr, `cannot write to stdout: <reason>`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Any, Final, TextIO

EXIT_STDOUT_LOST: Final = 128 + signal.SIGPIPE


class StdoutLost(Exception):
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
            raise StdoutLost(exc) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise StdoutLost(exc) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def guard() -> None:
    """Route stdout's write errors to `StdoutLost`. Started with stdout closed (`>&-`:
    `sys.stdout` is None), stdout is /dev/null: output is dropped, no file the build opens
    takes fd 1 (and what a child process writes there), and Dagster's log capture, which
    mirrors stdout through `tail` processes, finds one to write to."""
    if sys.stdout is None:
        try:
            os.fstat(1)
        except OSError:
            fd = os.open(os.devnull, os.O_WRONLY)
            if fd != 1:
                os.dup2(fd, 1)
                os.close(fd)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - the process's stdout
    if not isinstance(sys.stdout, _Guarded):
        sys.stdout = _Guarded(sys.stdout)  # type: ignore[assignment]


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
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
