"""A source file's name: the path its glob matched, relative to the config folder, that still
names that file (`config_relative`), and one name per file, one file per name (`FileNames`).

A name is lexical (no symlink resolved: a data folder symlinked under the config folder gives
the same names wherever it points), but `x/..` is dropped only where `x` is not a symlink:
the OS goes up from where a symlink points, so `raw/link/../x.jsonl` (with `raw/link` ->
`elsewhere/dir`) is `elsewhere/x.jsonl`, another file than `raw/x.jsonl`, and keeps its `..`
(`os.path.normpath` drops it as text, giving two files one name). For a path with no `..`
after a symlink the name is `os.path.relpath(os.path.normpath(path), root)`, as ever.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from jsonl_assets.core.config.errors import ConfigError
from jsonl_assets.core.file_names import file_name, shown


def kept_normpath(path: str, links: dict[str, bool] | None = None) -> str:
    """`os.path.normpath(path)`, except that `x/..` stays where `x` is a symlink (as the OS
    reads it: up from where the link points), so the result names the file `path` names.
    `links`: a cache of which prefixes are symlinks, for the calls of one listing."""
    cache = {} if links is None else links
    slashes = 2 if path.startswith("//") and not path.startswith("///") else 1
    head = os.sep * slashes if path.startswith(os.sep) else ""
    kept: list[str] = []
    for part in path.split(os.sep):
        if part in ("", "."):
            continue
        if part == "..":
            if not kept:
                if not head:  # a relative path going up: kept; `/..` is `/`
                    kept.append(part)
                continue
            prefix = head + os.sep.join(kept)
            if kept[-1] != ".." and not _is_link(prefix, cache):
                kept.pop()
                continue
        kept.append(part)
    return head + os.sep.join(kept) or "."


def _is_link(path: str, cache: dict[str, bool]) -> bool:
    known = cache.get(path)
    if known is None:
        known = cache[path] = os.path.islink(path)
    return known


def config_relative(path: str, root: Path, links: dict[str, bool] | None = None) -> str:
    """`path` (as a glob matched it) relative to the config folder `root`, as
    `os.path.relpath` gives it but through `kept_normpath`: a `..` after a symlink is kept."""
    here = path if os.path.isabs(path) else os.path.join(os.getcwd(), path)
    parts = [p for p in kept_normpath(here, links).split(os.sep) if p]
    base = [p for p in os.path.abspath(root).split(os.sep) if p]
    common = 0
    for a, b in zip(parts, base, strict=False):
        if a != b:
            break
        common += 1
    rel = [os.pardir] * (len(base) - common) + parts[common:]
    return os.path.join(*rel) if rel else os.curdir


@dataclass
class FileNames:
    """The names of a config's files, shared by its sources: a file (by resolved path) keeps
    the name of its first match; a name given to a second file is a ConfigError naming both
    (a trace must name the file a record came from, and a chunk plan finds files by name)."""

    by_path: dict[Path, tuple[str, str | None]] = field(default_factory=dict)
    by_name: dict[tuple[str, str | None], tuple[Path, str]] = field(default_factory=dict)
    links: dict[str, bool] = field(default_factory=dict)
    # The symlinks each glob (`sources[i].paths[n]`) met where a folder is expected, or matched
    # and cannot read as a file, for the dangerous-dir checks (`source_globs.FolderLinks`).
    folder_links: dict[str, dict[tuple[str, tuple[str, ...]], str]] = field(default_factory=dict)

    def name(
        self, cfg_path: Path, where: str, root: Path, path: str, resolved: Path
    ) -> tuple[str, str | None]:
        """The name (`file_name`: text, `file_b64`) of the file `resolved` that `where`'s glob
        matched as `path`."""
        named = self.by_path.get(resolved)
        if named is not None:
            return named
        named = file_name(Path(config_relative(path, root, self.links)).as_posix())
        first = self.by_name.get(named)
        if first is not None:
            other, other_where = first
            raise ConfigError(
                cfg_path,
                where,
                f"{shown(path)} is the file {shown(os.fspath(resolved))}, but its name "
                f"{named[0]!r} is already that of another file, {shown(os.fspath(other))} "
                f"(matched by {other_where}): two files cannot share a name; "
                "match one of them by another path",
            )
        self.by_path[resolved] = named
        self.by_name[named] = (resolved, where)
        return named
