"""The value types of the CLI's flags: byte sizes, counts and waits, each refused with one
line (argparse's exit 2) when it is not one."""

from __future__ import annotations

import argparse
import math
from typing import Final

MAX_WORKERS: Final = 4096


def byte_size(text: str) -> int:
    """A byte count for a CLI flag: `16777216`, `16MiB`, `16M`, `64KiB`, `1G` ..."""
    units = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    raw = text.strip().lower().removesuffix("ib").removesuffix("b")
    number, unit = (raw[:-1], raw[-1]) if raw and raw[-1] in units else (raw, "")
    try:
        value = int(number) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a byte size: {text!r} (e.g. 16MiB)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 byte: {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def worker_count(text: str) -> int:
    """`--workers`: 1 to MAX_WORKERS processes (a larger count is a typo, and past 2**31 the
    slots' semaphore cannot hold it)."""
    value = positive_int(text)
    if value > MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_WORKERS}: {text!r}")
    return value


def seconds(text: str) -> float:
    """A wait in seconds: a finite number, 0 or more (a bare `--wait` waits as long as needed)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds, 0 or more: {text!r}")
    return value
