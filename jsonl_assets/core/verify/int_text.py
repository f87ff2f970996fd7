"""Integers of up to `MAX_INT_DIGITS` digits as text while verify runs.

verify reads an integer of any length up to `exact_values.MAX_INT_DIGITS` with its value, and
a rule's message may show it (`record_count is ...`, `got ...`). Python refuses to turn an
integer of more than 4,300 digits into text (a guard against quadratic conversions), so
`verify_package` and `verify_shard` raise the interpreter's limit to `MAX_INT_DIGITS` while
they run, and put it back after (nested and concurrent runs share one raise). Such text costs
at most a tenth of a second; longer integers are refused when read (`NumberTooLong`).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from jsonl_assets.core.verify.exact_values import MAX_INT_DIGITS

_lock = threading.Lock()
_runs = 0
_saved = 0


@contextmanager
def long_int_text() -> Iterator[None]:
    """Within: `str()` of an integer of up to `MAX_INT_DIGITS` digits works."""
    global _runs, _saved
    with _lock:
        if _runs == 0:
            _saved = sys.get_int_max_str_digits()
            if _saved != 0 and _saved < MAX_INT_DIGITS:
                sys.set_int_max_str_digits(MAX_INT_DIGITS)
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0:
                sys.set_int_max_str_digits(_saved)
