"""An iterator consumed on a helper thread, a few items ahead of its reader: decompression
(which releases the GIL) then runs while the reader hashes and counts what came before."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Final, TypeVar

T = TypeVar("T")
_DONE: Final = object()


def read_ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """The items of `items`, in order, made on a helper thread up to `depth` ahead. What the
    iterator raises is raised here, in its place. The helper has stopped (and let go of
    `items`) once this generator is exhausted or closed."""
    out: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        out.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            out.put((_DONE, None))
        except BaseException as exc:  # handed to the reader, raised there
            out.put((_DONE, exc))

    helper = threading.Thread(target=produce, name="read-ahead", daemon=True)
    helper.start()
    try:
        while True:
            item, error = out.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while helper.is_alive():  # unblock a helper waiting on a full queue
            try:
                out.get_nowait()
            except queue.Empty:
                helper.join(0.05)
