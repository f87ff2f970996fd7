"""Paths handed to polars: it takes a path as UTF-8 text (a `str` holding a surrogate
escape, a file or folder name that is not UTF-8, reaches it as "an object without a read()
method"). Such a path is handed over as a symlink with an ASCII name (a hash of the path) in
this user's own folder under the temp dir, leading to it: reads and writes through it reach
the file itself. The folder is shared by the build's processes (forked workers exit without
cleaning up), holds one small link per such path, and is only ever used if it is the user's
own and private."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from jsonl_assets.core.store.atomic_files import raise_named


def _alias_folder() -> Path:
    folder = Path(tempfile.gettempdir()) / f"jsonl-assets-paths-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise PermissionError(f"{folder} is not a private folder of this user: not used")
    return folder


def polars_path(path: Path | str) -> str:
    """`path` as text polars can take: itself when it is UTF-8, else an ASCII-named symlink to
    it (same suffix: polars reads nothing from the name, but it stays recognisable)."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    target = os.fsdecode(os.fsencode(os.path.abspath(text)))
    digest = hashlib.sha256(os.fsencode(target)).hexdigest()[:32]
    alias = _alias_folder() / (digest + Path(text).suffix)
    try:
        os.symlink(target, alias)
    except FileExistsError:
        if os.readlink(alias) != target:  # never another target under this path's name
            raise PermissionError(f"{alias} leads elsewhere than {target!r}: not used") from None
    return str(alias)


@contextlib.contextmanager
def polars_output(path: Path) -> Iterator[str]:
    """`polars_path(path)` for a file polars writes; its failure names the file (polars says
    "No space left on device (os error 28)" and nothing more)."""
    try:
        yield polars_path(path)
    except OSError as exc:
        raise_named(exc, path)
