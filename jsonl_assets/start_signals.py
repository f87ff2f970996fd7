"""Signals while the CLI starts. Its modules (Dagster, polars, the core) take 0.3-2 s to
import, before any command's own handler exists: a Ctrl-C there printed a KeyboardInterrupt
traceback, a SIGTERM or SIGHUP killed the process without a word. Imported first by `cli.py`,
this module routes SIGINT, SIGTERM and SIGHUP of the `jsonl-assets` process to one line and
exit 128 + the signal, as the commands' handlers do (nothing is written yet). `restore` gives
the handlers back for a command that handles them itself; a signal ignored at start (`nohup`)
stays ignored; a process that merely imports the CLI (tests) is left alone."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType
from typing import Any, Final

SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_previous: dict[int, Any] = {}


def interrupt_line(args: list[str]) -> str:
    """The line for `jsonl-assets <args>`: a build is resumed by a rerun; the command is the
    first argument that is not an option (`verify build` verifies a folder named build)."""
    command = next((arg for arg in args if not arg.startswith("-")), None)
    return "interrupted; rerun to resume" if command == "build" else "interrupted"


def _stop(signum: int, _frame: FrameType | None) -> None:
    line = interrupt_line(sys.argv[1:])
    with contextlib.suppress(OSError):  # no stderr: the exit code says it
        os.write(2, f"{line}\n".encode())
    os._exit(128 + signum)


def _is_cli_process() -> bool:
    """The `jsonl-assets` script, or `python -m jsonl_assets.cli` (argv[0] is its path)."""
    first = os.path.basename(sys.argv[0]) if sys.argv else ""
    return first == "jsonl-assets" or sys.argv[0].endswith(os.path.join("jsonl_assets", "cli.py"))


def install() -> None:
    for sig in SIGNALS:
        previous = signal.getsignal(sig)
        if previous != signal.SIG_IGN:
            _previous[sig] = previous
            signal.signal(sig, _stop)


def restore() -> None:
    """The handlers from before `install` (Python's KeyboardInterrupt for SIGINT)."""
    while _previous:
        sig, previous = _previous.popitem()
        if signal.getsignal(sig) is _stop:
            signal.signal(sig, previous)


if _is_cli_process():
    install()
