"""The files a source's globs match (`sources[].paths`), each with its name and format.

A local glob's regular files and the paths it matched that cannot be read as files (a FIFO, a
dangling link, a folder it could not list or enter: `source_globs.match_glob`), which are
quarantined whole, unread; an object-storage glob's objects with their listing. A file's
format is the source's `format`, else its extension's: a ConfigError when neither names one,
except for a path that is never read, which needs none.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from jsonl_assets.core.config.errors import ConfigError
from jsonl_assets.core.config.path_names import FileNames, kept_normpath
from jsonl_assets.core.config.pipeline import SourceInput
from jsonl_assets.core.config.source_globs import (
    bracket_hint,
    is_unlisted_folder,
    match_glob,
    rooted,
)
from jsonl_assets.core.file_names import shown
from jsonl_assets.core.readers import infer_format
from jsonl_assets.core.store.url import is_url, location, store_glob


def resolved_path(cfg_path: Path, key: str, path: Path) -> Path:
    """`path` resolved, or a ConfigError naming `key` when the OS cannot resolve it (a loop
    of symlinks, a name it refuses)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # RuntimeError: a symlink loop
        raise ConfigError(
            cfg_path, key, f"{shown(str(path))}: cannot be resolved ({exc})"
        ) from None


def _resolved_file(cfg_path: Path, key: str, path: str, folders: dict[str, Path]) -> Path:
    """`resolved_path` of a matched file, its folder resolved once for all the files in it
    (a file that is not a symlink resolves to its resolved folder and its own name)."""
    head, name = os.path.split(path)
    if head and name not in ("", ".", "..") and not os.path.islink(path):
        folder = folders.get(head)
        if folder is None:
            try:
                folder = folders[head] = Path(head).resolve()
            except (OSError, RuntimeError, ValueError):
                return resolved_path(cfg_path, key, Path(path))  # names the file, as ever
        return folder / name
    return resolved_path(cfg_path, key, Path(path))


def _format(cfg_path: Path, where: str, given: str | None, name: str) -> str:
    """A source file's format: the source's `format`, else the one its extension names."""
    try:
        return given or infer_format(name)
    except ValueError as exc:
        raise ConfigError(cfg_path, where, f"{name}: {exc}; set `format` for this source") from exc


def source_inputs(
    cfg_path: Path,
    root: Path,
    key: str,
    fmt: str | None,
    patterns: list[str],
    names: FileNames,
) -> dict[Path | str, SourceInput]:
    """The files a source's globs match, by resolved path (an object: by its URL).

    A file's name is the path its glob matched, relative to the config folder lexically (no
    symlink resolved: a data folder symlinked under the config folder gives the same names
    wherever it points; a `..` after a symlink kept: `path_names.py`), and `file_b64` when its
    bytes are not UTF-8 (`file_name`). A file reached twice (two globs, two sources, two
    symlinked routes) is one file, found by its resolved path: it keeps the name of its first
    match (`names`, shared by the sources, in config order; a glob's matches in the order of
    their bytes); a name two files would get is a ConfigError naming both."""
    inputs: dict[Path | str, SourceInput] = {}
    folders: dict[str, Path] = {}
    for n, pattern in enumerate(patterns):
        if is_url(pattern):  # object storage: the URL is the file's name in traces
            try:
                urls = store_glob(pattern)
            except (OSError, ValueError) as exc:  # no such bucket, an unnameable key, no backend
                raise ConfigError(cfg_path, f"{key}.paths[{n}]", f"{pattern}: {exc}") from None
            if not urls:
                raise ConfigError(
                    cfg_path, f"{key}.paths[{n}]", f"glob {pattern!r} matched no object"
                )
            for url, listed in urls.items():
                file_format = _format(cfg_path, f"{key}.paths[{n}]", fmt, url)
                inputs[url] = SourceInput(
                    path=location(url), rel=url, format=file_format, listed=listed
                )
            continue
        links = names.folder_links.setdefault(f"{key}.paths[{n}]", {})
        found, not_files = match_glob(rooted(root, pattern), links)
        matched = sorted([*found, *not_files], key=os.fsencode)
        if not matched:
            raise ConfigError(
                cfg_path,
                f"{key}.paths[{n}]",
                f"glob {shown(pattern)!r} matched no file (relative to {shown(str(root))})"
                + bracket_hint(root, pattern),
            )
        for path in matched:
            where = f"{key}.paths[{n}]"
            if path in not_files:  # never resolved (a loop) nor opened (a FIFO): by its path
                absolute = path if os.path.isabs(path) else os.path.join(os.getcwd(), path)
                resolved = Path(kept_normpath(absolute, names.links))
            else:
                resolved = _resolved_file(cfg_path, where, path, folders)
            rel, rel_b64 = names.name(cfg_path, where, root, path, resolved)
            why = not_files.get(path)
            if why is None:
                file_format = _format(cfg_path, where, fmt, rel)
            else:
                file_format = _unread_format(fmt, pattern if is_unlisted_folder(why) else rel)
            inputs[resolved] = SourceInput(
                path=resolved, rel=rel, format=file_format, rel_b64=rel_b64, not_a_file=why
            )
    return inputs


# The format of a path that is never read (`not_a_file`) when neither the source nor a name
# gives one: it only sets how its quarantine entry's position is named (`line: 0`).
UNREAD_FORMAT: Final = "jsonl"


def _unread_format(given: str | None, name: str) -> str:
    """The format of a matched path that is never read (a FIFO, a dangling link, a folder the
    glob could not list): the source's, else the one `name` names (a folder's own name has no
    extension: the pattern's is used), else `UNREAD_FORMAT`. It needs none: a mixed-format
    source, or a glob ending in `*`, is never refused for a path it cannot read."""
    try:
        return given or infer_format(name)
    except ValueError:
        return UNREAD_FORMAT
