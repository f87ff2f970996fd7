"""Source globs: expansion, the folder a glob reads from, and the hint for literal brackets.

`expand_glob` matches what `glob.glob(pattern, recursive=True)` matches (the same `*`, `?`,
`[...]`, `**` and hidden-name rules), but a `**` enters each real directory (device, inode)
once: a symlink loop, or many links to one folder, cannot make it walk 2^40 paths. Patterns
and names are OS-level `str` (a config glob goes through `file_names.os_path` first), so a
file name that is not UTF-8 is matched and passed on (with surrogate escapes, `os.fsencode`
gives its bytes back).

Where `glob` skips a folder it cannot list or enter (no permission, vanished mid-walk, a symlink
loop, an I/O error) without a word, `match_glob` names it with why (`unlisted_folder`): the
files in it would otherwise be lost silently. It also reports the symlinks it met where a
folder is expected, after the glob's root (`FolderLinks`): one to a folder it enters, and a
dangling one it cannot enter yet, each with its target (`os.path.realpath`, non-strict: where
it points even if nothing is there yet) and the glob parts that read below it, so the
dangerous-dir checks can refuse a link into a dir the build writes, made or not yet made
(output_dirs.py). So are the matched symlinks that are not read as regular files (dangling,
or to a FIFO...), with no glob parts below them: a dangling `raw/zz.jsonl -> ../work/x.jsonl`
would read the file a build makes there. Reporting them changes no match.
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

from jsonl_assets.core.file_names import shown

RECURSIVE = "**"
# A symlink met where a folder is expected, or matched and not read as a file -> (its target,
# the glob parts that read below it: none for a matched one).
FolderLinks = dict[tuple[str, tuple[str, ...]], str]
# Errors that say a path is not there (nor can be: a name longer than the OS allows).
_ABSENT: Final = (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG)


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
    return [c for c in _matches(pattern, {}) if os.path.isfile(c)]


def match_glob(pattern: str, links: FolderLinks | None = None) -> tuple[list[str], dict[str, str]]:
    """The regular files matching `pattern` (as `expand_glob`), and the other matched paths
    that are not folders, each with why it cannot be read as a file (`not_a_file`), with the
    folders the expansion had to list or enter but could not (`unlisted_folder`): a source
    must not lose them silently. `links` receives the symlinks met where a folder is
    expected, and the matched symlinks among the other paths (`FolderLinks`, no parts below)."""
    files: list[str] = []
    unlisted: dict[str, str] = {}
    others: dict[str, str] = {}
    for path in _matches(pattern, unlisted, links):
        if _regular(path):
            if (why := _virtual(path)) is None:
                files.append(path)
            else:
                others[path] = why
        elif (why := not_a_file(path)) is not None:
            others[path] = why
    if links is not None:
        for path in others:
            if os.path.islink(path):  # by its path in the source; judged by its target
                _add_link(links, (path, ()))
    return files, {**unlisted, **others}


VIRTUAL: Final = (
    "size 0 but holds data: a virtual file (such as those in /proc or /sys) whose size is "
    "not known before it is read; not read"
)


def _regular(path: str) -> bool:
    """os.path.isfile: a regular file, symlinks followed."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _virtual(path: str) -> str | None:
    """`VIRTUAL` for a regular file whose size is 0 but which yields bytes when read (a
    /proc or /sys file, some FUSE files): its size cannot plan its read, and reading it as
    empty would lose its lines silently. None for any other file (an empty one included)."""
    try:
        if os.stat(path).st_size != 0:
            return None
        with open(path, "rb") as f:
            return VIRTUAL if f.read(1) else None
    except OSError:
        return None  # it cannot be opened: its read says so, as for any file


UNLISTED: Final = "folder the glob cannot list or enter"


def unlisted_folder(why: str) -> str:
    """The `not_a_file` reason of a folder a glob had to list or enter but could not."""
    return f"{UNLISTED}: {why}; the files in it are not read"


def is_unlisted_folder(why: str | None) -> bool:
    return why is not None and why.startswith(UNLISTED)


def _error(exc: OSError) -> str:
    return exc.strerror or str(exc)


def not_a_file(path: str) -> str | None:
    """Why the path, which a glob matched, is not a regular file (symlinks followed): "dangling
    symlink to <target>" (shown as `file_names.shown` shows a name), "symlink loop", "not a
    regular file: FIFO" (socket, character device, block device), `VIRTUAL` (a size-0 regular
    file that holds data); None for a regular file, a folder (not data) or a path that is not
    there at all. Opens only a regular file of size 0 (a FIFO would block)."""
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
            # The target as outputs show a name (`\xNN` for a byte that is not UTF-8): the
            # text goes into a quarantine entry and the partition's fingerprint, both JSON.
            return f"dangling symlink to {shown(os.readlink(path))}"
        return f"symlink that cannot be followed: {exc.strerror or exc}"
    if stat.S_ISREG(st.st_mode):
        return _virtual(path)
    if stat.S_ISDIR(st.st_mode):
        return None
    return f"not a regular file: {_KINDS.get(stat.S_IFMT(st.st_mode), 'unknown kind')}"


_KINDS: Final = {
    stat.S_IFIFO: "FIFO",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
}


def _matches(pattern: str, unlisted: dict[str, str], links: FolderLinks | None = None) -> list[str]:
    """Every path `pattern` (an absolute path) matches, of any kind; the folders it had to
    list or enter but could not go to `unlisted` (path -> why); the symlinks met where a
    folder is expected after the first wildcard, to `links` (when given)."""
    if pattern.endswith(os.sep):
        return []  # only folders match a pattern ending with a separator
    base = os.sep if pattern.startswith(os.sep) else os.curdir
    parts = _parts(pattern)
    candidates = [base]
    seen_there: set[str] = set()  # paths a listing showed: gone later, they vanished mid-walk
    wild = False  # a wildcard met: the root (the parts before) is resolved by the checks
    for i, part in enumerate(parts):
        dir_only = i < len(parts) - 1
        if part == RECURSIVE:
            seen: set[tuple[int, int]] = set()  # per `**`: another `**` may enter them again
            walk = _Walk(dir_only, seen, unlisted, seen_there)
            if links is not None:
                walk.links, walk.rest = links, tuple(parts[i:])
            candidates = [p for c in candidates for p in walk.recurse(c)]
            seen_there.update(candidates)
            wild = True
        elif (exact := literal(part)) is not None:
            candidates = [os.path.join(c, exact) for c in candidates]
            if wild and dir_only and links is not None:
                for c in candidates:
                    _note_link(c, tuple(parts[i + 1 :]), links)
        else:
            noted = (links, tuple(parts[i + 1 :])) if dir_only and links is not None else None
            listed = [
                os.path.join(c, name)
                for c in candidates
                for name in _names(c, part, dir_only, unlisted, seen_there, noted)
            ]
            wild = True
            seen_there.update(listed)
            candidates = listed
    return [c for c in candidates if _exists(c, unlisted)]


def _note_link(path: str, rest: tuple[str, ...], links: FolderLinks) -> None:
    """Add `path` to `links` if it is a symlink (dangling or to a folder: a symlink to a
    file is read as that file, and the checks judge the file)."""
    if os.path.islink(path) and (os.path.isdir(path) or not os.path.exists(path)):
        _add_link(links, (path, rest))


def _add_link(links: FolderLinks, key: tuple[str, tuple[str, ...]]) -> None:
    """Note the symlink `key[0]` with its target; not one whose target cannot be resolved (a
    link on the way cannot be read: `/proc/1/cwd` without permission): nothing is read through
    it, and the glob names it already, as a folder it cannot enter or a path not a file."""
    try:
        target = os.path.realpath(key[0])
    except OSError:
        return
    links.setdefault(key, target)


def _exists(path: str, unlisted: dict[str, str]) -> bool:
    """os.path.lexists, but a path that cannot be examined for another reason than its
    absence (a folder on the way without search permission, a loop, an I/O error) is named
    in `unlisted`."""
    try:
        os.lstat(path)
    except OSError as exc:
        if exc.errno not in _ABSENT:
            _name_blocking(path, exc, unlisted)
        return False
    return True


def _name_blocking(path: str, exc: OSError, unlisted: dict[str, str]) -> None:
    """Name in `unlisted` the folder that stopped `path` from being listed or examined
    (`exc`): the deepest folder on its way that is there but cannot be entered (`raw/locked`
    for `raw/locked/sub/x.jsonl`, whichever part of the pattern named it), else `path`'s
    folder. Several paths under one such folder are one entry. A path with a name the OS
    refuses (longer than it allows) names nothing: no such path can be there."""
    folder = _blocking_folder(path)
    if folder is not None:
        unlisted[folder] = unlisted_folder(_error(exc))


def _blocking_folder(path: str) -> str | None:
    """The parent of the first path on the way to `path` that cannot be examined (`lstat`):
    the folder that cannot be entered; `path`'s own folder if each can be; None if that first
    path cannot be there at all (missing, under a file, a name too long)."""
    head = os.sep if path.startswith(os.sep) else ""
    parts = [p for p in path.split(os.sep) if p]
    for k in range(1, len(parts) + 1):
        prefix = head + os.sep.join(parts[:k])
        try:
            os.lstat(prefix)
        except OSError as exc:
            if exc.errno in _ABSENT:
                return None
            return os.path.dirname(prefix) or os.curdir
    return os.path.dirname(path)  # `folder/`: the folder itself


def _parts(pattern: str) -> list[str]:
    parts: list[str] = []
    for part in pattern.split(os.sep):
        if part and not (part == RECURSIVE and parts and parts[-1] == RECURSIVE):
            parts.append(part)
    return parts


def _visible(name: str, part: str) -> bool:
    """glob's rule: a name starting with a dot matches only a part starting with one."""
    return not name.startswith(".") or part.startswith(".")


def _names(
    folder: str,
    part: str,
    dir_only: bool,
    unlisted: dict[str, str],
    seen_there: set[str],
    noted: tuple[FolderLinks, tuple[str, ...]] | None = None,
) -> list[str]:
    """The names in `folder` matching the glob part `part` (folders only with `dir_only`).
    A folder that is not there is no match, unless a listing showed it (it vanished); any
    other failure to list it, or to tell whether a matching entry is a folder, is named in
    `unlisted`. `noted`: where to note the matching symlinks (`_note_link`) and the parts
    after `part`."""
    try:
        with os.scandir(folder) as it:
            entries = [
                e for e in it if _visible(e.name, part) and fnmatch.fnmatchcase(e.name, part)
            ]
    except OSError as exc:
        if folder in seen_there:  # vanished mid-walk
            unlisted[folder] = unlisted_folder(_error(exc))
        elif exc.errno not in _ABSENT:
            _name_blocking(os.path.join(folder, ""), exc, unlisted)
        return []
    if noted is not None:
        for e in entries:
            if e.is_symlink():
                _note_link(e.path, noted[1], noted[0])
    if not dir_only:
        return [e.name for e in entries]
    return [e.name for e in entries if _is_dir(e, unlisted)]


def _is_dir(entry: os.DirEntry[str], unlisted: dict[str, str]) -> bool:
    """Whether the entry is a folder (symlinks followed); a dangling symlink is not (as for
    glob), one that cannot be followed for another reason (a loop, no permission) is named in
    `unlisted`."""
    try:
        return entry.is_dir()
    except OSError as exc:
        unlisted[entry.path] = unlisted_folder(_error(exc))
        return False


class _Walk:
    """One `**`: every visible path below a folder, descending into each real folder once."""

    def __init__(
        self,
        dir_only: bool,
        seen: set[tuple[int, int]],
        unlisted: dict[str, str],
        seen_there: set[str],
    ) -> None:
        self.dir_only = dir_only
        self.seen = seen
        self.unlisted = unlisted
        self.seen_there = seen_there
        self.links: FolderLinks | None = None  # where to note the symlinks it meets
        self.rest: tuple[str, ...] = ()  # the glob parts from this `**` on

    def recurse(self, folder: str) -> Iterator[str]:
        """`folder` and every visible path below it (folders only with `dir_only`)."""
        try:
            st = os.stat(folder)
        except OSError as exc:
            if folder in self.seen_there:  # vanished mid-walk
                self.unlisted[folder] = unlisted_folder(_error(exc))
            elif exc.errno not in _ABSENT:
                _name_blocking(os.path.join(folder, ""), exc, self.unlisted)
            return
        if not stat.S_ISDIR(st.st_mode) or (st.st_dev, st.st_ino) in self.seen:
            return
        self.seen.add((st.st_dev, st.st_ino))
        yield folder
        stack = [folder]
        while stack:
            current = stack.pop()
            try:
                with os.scandir(current) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:  # it was a folder a moment ago
                self.unlisted[current] = unlisted_folder(_error(exc))
                continue
            below: list[str] = []
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                is_dir = _is_dir(entry, self.unlisted)
                if self.links is not None and entry.is_symlink():
                    _note_link(entry.path, self.rest, self.links)
                if self.dir_only and not is_dir:
                    continue
                path = os.path.join(current, entry.name)
                yield path
                if is_dir and (key := self._unseen(path)) is not None:
                    self.seen.add(key)
                    below.append(path)
            stack.extend(reversed(below))

    def _unseen(self, path: str) -> tuple[int, int] | None:
        """The folder's (device, inode) if the walk has not entered it yet."""
        try:
            st = os.stat(path)
        except OSError as exc:
            self.unlisted[path] = unlisted_folder(_error(exc))
            return None
        key = (st.st_dev, st.st_ino)
        return None if key in self.seen else key


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
