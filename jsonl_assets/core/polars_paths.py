"""Paths handed to polars: it takes a path as UTF-8 text (a `str` holding a surrogate
escape, a file or folder name that is not UTF-8, reaches it as "an object without a read()
method"). Such a path is handed over as a symlink with an ASCII name, in a folder of this
process's own under the temp dir, that leads to it: reads and writes through it reach the
file itself."""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

_aliases: list[Path] = []  # the process's alias folder, made on first need


def polars_path(path: Path | str) -> str:
    """`path` as text polars can take: itself when it is UTF-8, else an ASCII-named symlink to
    it (same suffix: polars reads nothing from the name, but it stays recognisable)."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    if not _aliases:
        folder = Path(tempfile.mkdtemp(prefix="jsonl-assets-paths-"))
        atexit.register(shutil.rmtree, folder, True)
        _aliases.append(folder)
    raw = os.fsencode(os.path.abspath(text))
    alias = _aliases[0] / (hashlib.sha256(raw).hexdigest()[:32] + Path(text).suffix)
    if not alias.is_symlink():
        os.symlink(os.fsdecode(raw), alias)
    return str(alias)
