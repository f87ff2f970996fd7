"""Source globs: expansion, the folder a glob reads from, and the hint for literal brackets.

`expand_glob` matches what `glob.glob(pattern, recursive=True)` matches (the same `*`, `?`,
`[...]`, `**` and hidden-name rules), but a `**` enters each real directory (device, inode)
once: a symlink loop, or many links to one folder, cannot make it walk 2^40 paths. Patterns
and names are OS-level `str` (a config glob goes through `file_names.os_path` first), so a
file name that is not UTF-8 is matched and passed on (with surrogate escapes, `os.fsencode`
gives its bytes back).
"""

from __future__ import annotations

import errno
import fnmatch
import functools
import glob
import os
import re
import stat
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
    return [c for c in _matches(pattern) if os.path.isfile(c)]


def match_glob(pattern: str) -> tuple[list[str], dict[str, str]]:
    """The regular files matching `pattern` (as `expand_glob`), and the other matched paths
    that are not folders, each with why it cannot be read as a file (`not_a_file`): a source
    must not lose them silently."""
    files: list[str] = []
    others: dict[str, str] = {}
    for path in _matches(pattern):
        if os.path.isfile(path):
            files.append(path)
        elif (why := not_a_file(path)) is not None:
            others[path] = why
    return files, others


def not_a_file(path: str) -> str | None:
    """Why the path, which a glob matched, is not a regular file (symlinks followed): "dangling
    symlink to <target>", "symlink loop", "not a regular file: FIFO" (socket, character
    device, block device); None for a regular file, a folder (not data) or a path that is
    not there at all. Never opens it (a FIFO would block)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        try:
            link = os.lstat(path)
        except OSError:
            return None  # not there: nothing was matched
        if not stat.S_ISLNK(link.st_mode):
            return f"cannot be examined: {exc.strerror or exc}"
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        if exc.errno == errno.ENOENT:
            return f"dangling symlink to {os.readlink(path)}"
        return f"symlink that cannot be followed: {exc.strerror or exc}"
    if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
        return None
    return f"not a regular file: {_KINDS.get(stat.S_IFMT(st.st_mode), 'unknown kind')}"


_KINDS: Final = {
    stat.S_IFIFO: "FIFO",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
}


def _matches(pattern: str) -> list[str]:
    """Every path `pattern` (an absolute path) matches, of any kind."""
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
    return [c for c in candidates if os.path.lexists(c)]


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
