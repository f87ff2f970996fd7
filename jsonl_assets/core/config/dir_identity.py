"""Whether one local path lies in another, judged by what the folders are, not only by how
their paths are spelt. An existing folder is known by its identity, `(st_dev, st_ino)` (what
`os.path.samefile` compares), so a second name of one folder - a bind mount, a volume
mounted at two paths in a container, an NFS export mounted twice, `Raw/` for `raw/` on a
case-insensitive file system - is that folder. A path that does not exist yet is known by
its nearest existing ancestor's identity and the names below it, compared as text. Paths
spelt inside one another are inside one another whatever the disk says."""

from __future__ import annotations

import os
from pathlib import Path

Identity = tuple[int, int]  # (st_dev, st_ino)


class Identities:
    """The identities of paths, each looked up once (the files a check walks share their
    folders)."""

    def __init__(self) -> None:
        self._seen: dict[Path, Identity | None] = {}
        self._anchors: dict[Path, tuple[Identity, tuple[str, ...]] | None] = {}

    def of(self, path: Path) -> Identity | None:
        """`path`'s identity (symlinks followed), None if it does not exist or cannot be
        looked up."""
        if path not in self._seen:
            try:
                st = os.stat(path)
            except (OSError, ValueError):  # missing, no permission, a NUL, a name too long
                self._seen[path] = None
            else:
                self._seen[path] = (st.st_dev, st.st_ino)
        return self._seen[path]

    def anchor(self, path: Path) -> tuple[Identity, tuple[str, ...]] | None:
        """The identity of `path`'s nearest existing ancestor (itself, if it exists) and the
        names of `path` below it."""
        if path not in self._anchors:
            self._anchors[path] = None
            for ancestor in (path, *path.parents):
                ident = self.of(ancestor)
                if ident is not None:
                    self._anchors[path] = (ident, path.parts[len(ancestor.parts) :])
                    break
        return self._anchors[path]

    def parts_below(self, path: Path, folder: Path) -> tuple[str, ...] | None:
        """The names of `path` below `folder` (`()` when it is that folder), or None when it
        does not lie in it: spelt inside it, or inside it by identity (an ancestor of `path`
        is `folder`'s nearest existing ancestor, and the names below that one go on as
        `folder`'s do)."""
        if path.is_relative_to(folder):
            return path.relative_to(folder).parts
        anchor = self.anchor(folder)
        if anchor is None:
            return None
        ident, rest = anchor
        for ancestor in (path, *path.parents):
            if self.of(ancestor) == ident:
                below = path.parts[len(ancestor.parts) :]
                if below[: len(rest)] == rest:
                    return below[len(rest) :]
        return None

    def same(self, a: Path, b: Path) -> bool:
        """Whether `a` and `b` are one folder (or one path yet to be made)."""
        return self.parts_below(a, b) == ()

    def inside(self, path: Path, folder: Path) -> bool:
        """Whether `path` lies strictly inside `folder`."""
        return bool(self.parts_below(path, folder))
