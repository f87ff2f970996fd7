"""Path safety for names a manifest declares (C12 for shards, G1 for the asset index).

C12 also rejects NUL characters, backslash-rooted and UNC paths, a trailing separator or
`.` segment (pathlib would drop it, a POSIX reader would not), and a path that resolves
(through symlinks) outside the package directory; on object storage, a path that names no key
of its own (`data//x`, `data/x/`, `data/x?versionId=1`: the URL or the client would read
another key).
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Final

from jsonl_assets.core.store.base import store_for
from jsonl_assets.core.store.object_keys import key_problem
from jsonl_assets.core.store.url import is_url
from jsonl_assets.core.verify.report import show

_SCHEME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def path_problem(package_dir: Path, path: str) -> str | None:
    """Why `path` is not a safe relative path inside `package_dir` (C12/G1), or None."""
    if not path:
        return "path is empty"
    if "\x00" in path:
        return "path contains a NUL character"
    if path.startswith(("/", "\\")):
        return f"path {show(path)} is absolute"
    if _SCHEME.match(path):
        return f"path {show(path)} has a drive letter or URI scheme"
    if ".." in re.split(r"[/\\]", path):
        return f"path {show(path)} has a '..' segment"
    if is_url(package_dir):  # no symlinks, and the checks above keep it inside
        problem = key_problem(path, getattr(store_for(package_dir), "CUT_AT", ()))
        return f"path {show(path)} is read as another object: {problem}" if problem else None
    if re.split(r"[/\\]", path)[-1] in ("", "."):
        return (
            f"path {show(path)} ends with a separator or '.': a reader opens a folder, not a file"
        )
    try:
        root = package_dir.resolve()
        target = (root / path).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        return f"path {show(path)} cannot be resolved: {exc}"
    if target != root and root not in target.parents:
        return f"path {show(path)} resolves outside the package directory"
    return None


def normal_path(path: str) -> str:
    """The form two shard paths are compared in (C18)."""
    return posixpath.normpath(path.replace("\\", "/"))
