"""Source globs: expansion, the folder a glob reads from, and the hint for literal brackets.

`expand_glob` matches what `glob.glob(pattern, recursive=True)` matches (the same `*`, `?`,
`[...]`, `**` and hidden-name rules), but a `**` enters each real directory (device, inode)
once: a symlink loop, or many links to one folder, cannot make it walk 2^40 paths. Patterns
and names are OS-level `str` (a config glob goes through `file_names.os_path` first), so a
file name that is not UTF-8 is matched and passed on (with surrogate escapes, `os.fsencode`
gives its bytes back).
"""

from __future__ import annotations

import fnmatch
import functools
import glob
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

RECURSIVE = "**"


def has_magic(part: str) -> bool:
    return glob.has_magic(part)


_ESCAPED: Final = re.compile(r"\[([*?\[])\]")
_LITERAL: Final = re.compile(r"(?:[^*?\[]|\[[*?\[]\])*")


def literal(part: str) -> str | None:
    """The one name a glob part matches when it holds no wildcard but escaped ones (`[[]`,
    `[*]`, `[?]`, as `glob.escape` writes them), else None."""
    return _ESCAPED.sub(r"\1", part) if _LITERAL.fullmatch(part) else None


def rooted(root: Path, pattern: str) -> str:
    """A source glob relative to the config's folder `root`, as one pattern: the folder's own
    name taken literally (`glob.escape`: a project in `proj[v2]/` reads from that folder, never
    a sibling `projv/`), only the pattern's wildcards being wildcards. An absolute pattern is
    itself."""
    if os.path.isabs(pattern):
        return pattern
    return os.path.join(glob.escape(os.fspath(root)), pattern)


def expand_glob(pattern: str) -> list[str]:
    """Regular files (symlinks to them included) matching `pattern` (an absolute path)."""
    if pattern.endswith(os.sep):
        return []  # only folders match a pattern ending with a separator
    base = os.sep if pattern.startswith(os.sep) else os.curdir
    parts = _parts(pattern)
    candidates = [base]
    for i, part in enumerate(parts):
        dir_only = i < len(parts) - 1
        if part == RECURSIVE:
            seen: set[tuple[int, int]] = set()  # per `**`: another `**` may enter them again
            candidates = [p for c in candidates for p in _recurse(c, dir_only, seen)]
        elif (exact := literal(part)) is not None:
            candidates = [os.path.join(c, exact) for c in candidates]
        else:
            candidates = [
                os.path.join(c, name)
                for c in candidates
                for name in _names(c, dir_only)
                if _visible(name, part) and fnmatch.fnmatchcase(name, part)
            ]
    return [c for c in candidates if os.path.isfile(c)]


def _parts(pattern: str) -> list[str]:
    parts: list[str] = []
    for part in pattern.split(os.sep):
        if part and not (part == RECURSIVE and parts and parts[-1] == RECURSIVE):
            parts.append(part)
    return parts


def _visible(name: str, part: str) -> bool:
    """glob's rule: a name starting with a dot matches only a part starting with one."""
    return not name.startswith(".") or part.startswith(".")


def _names(folder: str, dir_only: bool) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in entries if not dir_only or _is_dir(e)]
    except OSError:
        return []


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _recurse(folder: str, dir_only: bool, seen: set[tuple[int, int]]) -> Iterator[str]:
    """`folder` and every visible path below it (folders only with `dir_only`), descending
    into each real folder once."""
    try:
        st = os.stat(folder)
    except OSError:
        return
    if not os.path.isdir(folder) or (st.st_dev, st.st_ino) in seen:
        return
    seen.add((st.st_dev, st.st_ino))
    yield folder
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        below: list[str] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            is_dir = _is_dir(entry)
            if dir_only and not is_dir:
                continue
            path = os.path.join(current, entry.name)
            yield path
            if is_dir:
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    below.append(path)
        stack.extend(reversed(below))


def split_root(pattern: str) -> tuple[Path, list[str]]:
    """The folder a glob reads from (its parts before the first one with a wildcard, escaped
    wildcards taken literally; the file's own folder for a pattern without any) and the
    parts after it."""
    parts = _parts(pattern)
    base = Path(os.sep if pattern.startswith(os.sep) else os.curdir)
    for i, part in enumerate(parts):
        if literal(part) is None or i == len(parts) - 1:
            return base.joinpath(*(str(literal(p)) for p in parts[:i])), parts[i:]
    return base, parts


def can_reach(rest: Sequence[str], folder: Sequence[str]) -> bool:
    """Whether the glob parts `rest` (after its root) can match a file inside `folder` (its
    parts below the root, [] for the root itself). Conservative: hidden names are not
    treated specially, so it answers yes where glob might not."""

    @functools.cache
    def reach(i: int, j: int) -> bool:
        if j == len(folder):
            return i < len(rest)  # at least one more part: a name inside the folder
        if i == len(rest):
            return False
        part = rest[i]
        if part == RECURSIVE:
            return reach(i + 1, j) or reach(i, j + 1)
        if i == len(rest) - 1:
            return False  # the last part names the file itself, not a folder
        return fnmatch.fnmatchcase(folder[j], part) and reach(i + 1, j + 1)

    return reach(0, 0)


def bracket_hint(root: Path, pattern: str) -> str:
    """For a glob with `[` or `]` that matched nothing: how to match them literally."""
    if "[" not in pattern and "]" not in pattern:
        return ""
    escaped = pattern.replace("[", "[[]")
    hint = (
        "; `[` and `]` are glob brackets (`[ab]` matches a or b): to match a literal `[` "
        f"write `[[]` (`]` alone is literal), e.g. {escaped!r}"
    )
    found = len(expand_glob(rooted(root, escaped)))
    if found:
        hint += f", which matches {found} file(s)"
    return hint
