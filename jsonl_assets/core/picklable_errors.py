"""Exceptions that cross a process pool intact.

A worker's exception comes back to the CLI pickled. Python pickles an exception as its class
called with `self.args` (its message, once `__init__` has called `super().__init__(message)`)
and its attributes: a class whose `__init__` takes other arguments (`ConfigError(file, key,
message)`) cannot be rebuilt that way. The unpickling fails in the pool's result thread, the
pool is marked broken, and the build said a worker was "killed from outside" instead of the
error. `Picklable` rebuilds such an exception without calling its `__init__`: the same
class, message (`args`) and attributes. Every exception class of the package with its own
`__init__` (or whose base has one) derives from it (`test_picklable_errors.py` checks them all).
"""

from __future__ import annotations

from typing import Any


class Picklable(Exception):
    """An exception pickled as its class, `args` and attributes, never through `__init__`."""

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt, (type(self), self.args, dict(vars(self)))


def _rebuilt(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    exc = cls.__new__(cls, *args)  # BaseException.__new__ sets `args`; __init__ is not called
    exc.args = args
    vars(exc).update(state)
    return exc
