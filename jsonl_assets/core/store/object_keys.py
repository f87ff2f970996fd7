"""Object keys: which ones the build can name, and how a source glob matches them.

A glob on object storage (`s3://bucket/raw/**/*.jsonl`) is matched here against the exact keys
a flat listing gives (every object is an object, even where its key is also the prefix of
others), with `glob.glob`'s rules, as a local glob is (config/source_globs.py): `*`, `?` and
`[...]` match within one `/`-separated part, `**` matches any number of parts, and a part
starting with `.` is matched only by a pattern part that starts with `.` (`**` never enters
or matches one).

Some keys cannot be read under their own name: a `StoreURL` collapses an empty part (`a//b`,
a leading `/`) and drops a trailing `/`, and a client may cut a key at a version query
(`?versionId=` for s3fs). A glob that matches such a key raises `UnnameableKey` rather than
read another object in its place; a zero-byte key ending with `/` is a folder marker (what a
console writes for "create folder"): it holds no byte, and no glob matches it.
"""

from __future__ import annotations

import fnmatch
import functools
import glob
from collections.abc import Iterable, Sequence

RECURSIVE = "**"


class UnnameableKey(ValueError):
    """A glob matched an object whose key the store's URLs or client cannot name exactly."""


def key_problem(key: str, cut_at: Sequence[str] = ()) -> str | None:
    """Why the object key `key` would be read as another key (None: it is read as itself);
    `cut_at` are the markers the store's client cuts a key at."""
    if key.startswith("/") or "//" in key:
        return "its key has an empty part ('//' or a leading '/'), which a URL here collapses"
    if key.endswith("/"):
        return "its key ends with '/', which a URL here drops"
    for marker in cut_at:
        if marker in key:
            return f"its key holds {marker!r}, where the storage client cuts a key"
    return None


def pattern_parts(pattern: str) -> list[str]:
    """The parts of a key glob, empty ones and repeated `**` dropped (as a local glob's)."""
    parts: list[str] = []
    for part in pattern.split("/"):
        if part and not (part == RECURSIVE and parts and parts[-1] == RECURSIVE):
            parts.append(part)
    return parts


def listing_prefix(parts: Sequence[str]) -> str:
    """The key prefix every match starts with: the parts before the first wildcard (the whole
    key for a glob without one)."""
    literal: list[str] = []
    for part in parts:
        if glob.has_magic(part):
            return "".join(f"{p}/" for p in literal)
        literal.append(part)
    return "/".join(literal)


def _visible(name: str, part: str) -> bool:
    return not name.startswith(".") or part.startswith(".")


def parts_match(names: Sequence[str], parts: Sequence[str]) -> bool:
    """Whether the key parts `names` match the glob parts `parts` (glob.glob's rules)."""

    @functools.cache
    def match(i: int, j: int) -> bool:
        if i == len(parts):
            return j == len(names)
        part = parts[i]
        if part == RECURSIVE:  # zero parts, or one visible part and `**` again
            return match(i + 1, j) or (
                j < len(names) and not names[j].startswith(".") and match(i, j + 1)
            )
        if j == len(names):
            return False
        name = names[j]
        if glob.has_magic(part):
            ok = _visible(name, part) and fnmatch.fnmatchcase(name, part)
        else:
            ok = name == part
        return ok and match(i + 1, j + 1)

    return match(0, 0)


def matching_keys(
    pattern: str, listed: Iterable[tuple[str, int]], cut_at: Sequence[str] = ()
) -> list[str]:
    """The keys of `listed` (key, size) that the key glob `pattern` matches. A matched key that
    cannot be named (`key_problem`; matched as listed, or as it would be read) raises
    `UnnameableKey` naming it; zero-byte folder markers (`raw/sub/`) are left out."""
    if pattern.endswith("/"):
        return []  # as on local disk: only folders match a glob ending with a separator
    parts = pattern_parts(pattern)
    found: list[str] = []
    for key, size in listed:
        if key.endswith("/") and size == 0:
            continue  # a folder marker: no byte to read
        problem = key_problem(key, cut_at)
        if problem is None:
            if parts_match(key.split("/"), parts):
                found.append(key)
            continue
        read_as = key
        for marker in cut_at:
            read_as = read_as.partition(marker)[0]
        read_as = "/".join(p for p in read_as.split("/") if p)
        if parts_match(key.split("/"), parts) or parts_match(read_as.split("/"), parts):
            raise UnnameableKey(
                f"the glob matches the object {key!r}, which cannot be read under its own "
                f"name: {problem} (it would be read as {read_as!r}); rename the object, or "
                "narrow the glob so that it does not match it"
            )
    return found
