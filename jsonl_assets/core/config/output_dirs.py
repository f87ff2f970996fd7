"""Where a build may write: `output.dir`, its report dir (`<output.dir>-report`, `REPORT_KEY`),
`work_dir` and `quarantine_dir`, checked at load time (`guarded_dirs` lists them).

Paths are compared resolved (symlinks and `..` followed) and by folder identity
(`dir_identity.py`: `(st_dev, st_ino)`, so a bind mount or another second name of one folder
is that folder; a dir yet to be made by its nearest existing ancestor). A dir may not be the filesystem
root, the home dir or a folder above it; the three may not be one folder or lie inside one
another; none may lie in a source root (a glob's folder before its first wildcard), nor hold one.
When that root is the config's own folder (`train.jsonl`, `*.jsonl`), only the folders the
glob's wildcards can reach count: a package beside the config is the common layout. A file a glob
matched through a symlink into one of the dirs is refused too, as is a symlink the glob met where
a folder is expected that leads into one of the dirs (or to a folder holding one the rest of
the glob reaches), or a matched one (a dangling link, a link to a FIFO) that leads into one,
made or not yet made (a dangling link to where a build will make it); and
a `..` after a wildcard, which climbs out of the source root. So a build never reads back
its own output, nor ships its work or quarantine files inside the package. Object-storage
locations (`s3://`, `gs://`, `az://`) obey the same rules, compared as key prefixes
(`check_url_dirs`): there is no symlink nor `..` there to follow. A bucket (or container)
root is refused like the filesystem root: the package is the prefix `<dir>/`, and its report
(`<dir>-report/`) would land inside it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePath, PurePosixPath
from typing import Final, TypeVar

from jsonl_assets.core.config.dir_identity import Identities
from jsonl_assets.core.config.source_globs import (
    FolderLinks,
    can_reach,
    expand_glob,
    has_magic,
    rooted,
    split_root,
)
from jsonl_assets.core.file_names import shown
from jsonl_assets.core.picklable_errors import Picklable
from jsonl_assets.core.store.url import StoreURL

REPORT_SUFFIX: Final = "-report"
REPORT_KEY: Final = "output.dir's report dir"  # the name the checks give the report dir

_Dir = TypeVar("_Dir", Path, StoreURL)
_P = TypeVar("_P", bound=PurePath)


def report_dir_of(package: _Dir) -> _Dir:
    """The package's report dir: a folder (or prefix) beside it, named after it."""
    return package.parent / (package.name + REPORT_SUFFIX)


def guarded_dirs(dirs: Mapping[str, Path | StoreURL]) -> dict[str, Path | StoreURL]:
    """`dirs` (`output.dir`, `output.work_dir`, `output.quarantine_dir`: a resolved path or an
    object-storage location) with the report dir after `output.dir`, resolved too (a symlink
    named `<dir>-report` leads where the report is written)."""
    out: dict[str, Path | StoreURL] = {}
    for key, path in dirs.items():
        out[key] = path
        if key == "output.dir":
            report = report_dir_of(path)
            out[REPORT_KEY] = report if isinstance(report, StoreURL) else _resolve(report)
    return out


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop: `_check_creatable` says so
        return path


class DirProblem(Picklable):
    """A dangerous dir: the dotted config `key` to blame and the message."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


def _inside(path: PurePath, folder: PurePath) -> bool:
    return path != folder and path.is_relative_to(folder)


def _home() -> Path | None:
    home = os.path.expanduser("~")
    return None if home == "~" else Path(home).resolve()


def _aka(path: Path, folder: Path) -> str:
    """What to add when `path` lies in `folder` only by identity (not as spelt)."""
    if path.is_relative_to(folder):
        return ""
    return " (one folder under two names: a bind mount, a second mount or another alias)"


def check_own_dirs(dirs: Mapping[str, Path]) -> None:
    """`dirs`: dotted key -> resolved path, in config order."""
    home = _home()
    ids = Identities()
    for key, path in dirs.items():
        if path.parent == path or ids.same(path, Path(path.anchor)):
            raise DirProblem(key, f"{path} is the filesystem root; choose a folder of its own")
        if home is not None and ids.same(path, home):
            raise DirProblem(key, f"{path} is the home dir; choose a folder of its own")
        try:
            _check_creatable(key, path)
        except OSError as exc:  # a name too long, a loop of symlinks, no permission to look
            raise DirProblem(key, f"{path}: not a usable folder ({exc.strerror})") from None
        if home is not None and ids.inside(home, path):
            raise DirProblem(key, f"{path} holds the home dir {home}; choose a folder of its own")
    shown = {key: str(path) for key, path in dirs.items()}
    _check_apart(dirs, shown, "folder", ids.parts_below)


def _check_creatable(key: str, path: Path) -> None:
    """`path` is a folder, or a build can create it: its nearest existing ancestor is a
    folder (OSError when the OS refuses to look the path up)."""
    if path.exists():
        if not path.is_dir():
            raise DirProblem(key, f"{path} exists and is not a folder")
        return
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise DirProblem(key, f"{path} lies under {parent}, which is not a folder")
            return


def _spelt_below(path: _P, folder: _P) -> tuple[str, ...] | None:
    """`path`'s parts below `folder` as spelt (object-storage keys have no other names)."""
    return path.relative_to(folder).parts if path.is_relative_to(folder) else None


def _check_apart(
    dirs: Mapping[str, _P],
    shown: Mapping[str, str],
    noun: str,
    below: Callable[[_P, _P], tuple[str, ...] | None] = _spelt_below,
) -> None:
    """No two of `dirs` are one `noun` or lie in one another (`below`: a path's parts below
    a folder, None when it is not in it)."""
    items = list(dirs.items())
    for i, (key_a, a) in enumerate(items):
        for key_b, b in items[i + 1 :]:
            b_in_a, a_in_b = below(b, a), below(a, b)
            if b_in_a == () or a_in_b == ():
                raise DirProblem(key_b, f"{shown[key_b]} is the same {noun} as {key_a}")
            if b_in_a:
                raise DirProblem(key_b, f"{shown[key_b]} lies inside {key_a} ({shown[key_a]})")
            if a_in_b:
                raise DirProblem(key_a, f"{shown[key_a]} lies inside {key_b} ({shown[key_b]})")


def check_source_overlap(
    dirs: Mapping[str, Path],
    root: Path,
    sources: Sequence[tuple[str, Sequence[str], Sequence[Path]]],
    links: Mapping[str, FolderLinks] | None = None,
) -> None:
    """`sources`: (dotted key of the source, its globs, the files they matched, resolved);
    `links`: the symlinks each glob (`sources[i].paths[n]`) met where a folder is expected,
    or matched and not read as a file (`source_globs.match_glob`)."""
    project = root.resolve()
    ids = Identities()
    for source_key, patterns, inputs in sources:
        for j, pattern in enumerate(patterns):
            where = f"{source_key}.paths[{j}] ({pattern!r})"
            folder, rest = split_root(rooted(root, pattern))
            if rest and has_magic(rest[0]) and ".." in rest[1:]:
                raise DirProblem(
                    f"{source_key}.paths[{j}]",
                    f"{pattern!r} has a `..` after a wildcard: it goes back up from the "
                    f"folders the wildcard matches, out of its source root {folder}, where "
                    "it could reach the build's own output; write the glob without it (a "
                    "`..` before the first wildcard is fine)",
                )
            try:
                folder = folder.resolve()
            except (OSError, RuntimeError):  # RuntimeError: a symlink loop
                continue  # nothing is read through it (its glob names it, unread)
            for key, path in dirs.items():
                below = ids.parts_below(path, folder)
                if below is not None:
                    if not ids.same(folder, project) or ".." in rest or can_reach(rest, below):
                        raise DirProblem(
                            key,
                            f"{path} lies in {folder}, the source root of {where}"
                            f"{_aka(path, folder)}: a build could read its own output back; "
                            "move it out of the sources",
                        )
                elif ids.inside(folder, path):
                    raise DirProblem(
                        key,
                        f"{path} holds {folder}, which {where} reads{_aka(folder, path)}; "
                        "keep them apart",
                    )
        # A file is never an output folder nor one's existing ancestor, so its folder decides:
        # each folder is judged once, by its first file (the one a per-file walk would name).
        first_in: dict[Path, Path] = {}
        for file in inputs:
            first_in.setdefault(file.parent, file)
        for parent, file in first_in.items():
            for key, path in dirs.items():
                if ids.parts_below(parent, path) is not None:
                    j = _pattern_of(root, patterns, file)
                    how = "a symlink" if file.is_relative_to(path) else "a second name of it"
                    raise DirProblem(
                        f"{source_key}.paths[{j}]",
                        f"matches {file}, which lies inside {key} ({path}) (through {how}): "
                        "a build would read its own output back",
                    )
        for j in range(len(patterns)):
            glob_key = f"{source_key}.paths[{j}]"
            _check_links(dirs, glob_key, (links or {}).get(glob_key, {}), ids)


def _check_links(
    dirs: Mapping[str, Path], glob_key: str, links: FolderLinks, ids: Identities
) -> None:
    """No symlink a glob met where a folder is expected, or matched (`links`), leads into one
    of `dirs`, or to a folder holding one the rest of the glob can reach; made or not yet
    made: a dangling link to where a build will make a dir, or a file, reads it once it is
    there. Its target is as `os.path.realpath` gives it: chains of links followed, relative
    ones from the link's folder."""
    for (link, rest), target in links.items():
        to = Path(target)
        state = "" if os.path.exists(target) else ", not there yet"
        for key, path in dirs.items():
            below = ids.parts_below(path, to)
            within = ids.parts_below(to, path)
            if within is None and (below is None or not can_reach(rest, below)):
                continue
            how = "is" if within == () else "lies inside" if within else "holds"
            raise DirProblem(
                glob_key,
                f"{'matches' if not rest else 'goes through'} {shown(link)}, a symlink to {shown(target)}{state}, which "
                f"{how} {key} ({path}): a build would read its own output back; "
                "remove the link or keep the glob from it",
            )


def url_path(url: str) -> PurePosixPath:
    """A location as a path `/<scheme>:/<bucket>/<key parts>` (the scheme as its backend's
    first name: `gcs://` is `gs://`), to compare like a local one."""
    from jsonl_assets.core.store.base import backends, url_scheme

    scheme = url_scheme(url)
    canonical = getattr(backends().get(scheme), "SCHEMES", (scheme,))[0]
    return PurePosixPath("/", f"{canonical}:", *(p for p in url.split("://", 1)[1].split("/") if p))


def check_url_roots(dirs: Mapping[str, str]) -> None:
    """`dirs`: dotted key -> object-storage location. None may be a bucket (or container)
    root: like the filesystem root, it is no folder of its own (and the package's report,
    `<dir>-report/`, would land inside the package)."""
    for key, url in dirs.items():
        if len(url_path(url).parts) <= 3:  # `/`, `<scheme>:`, the bucket
            raise DirProblem(
                key,
                f"{url} is a bucket root; choose a prefix of its own "
                "(for example s3://bucket/package)",
            )


def check_url_dirs(dirs: Mapping[str, str], sources: Sequence[tuple[str, Sequence[str]]]) -> None:
    """`dirs`: dotted key -> object-storage location, in config order; `sources`: (dotted key
    of the source, its object-storage globs). The two may not be one location nor lie in one
    another, and neither may lie in a glob's source root (its parts before the first wildcard)
    nor hold it."""
    check_url_roots(dirs)
    own = {key: url_path(url) for key, url in dirs.items()}
    _check_apart(own, dirs, "location")
    for source_key, patterns in sources:
        for j, pattern in enumerate(patterns):
            parts = url_path(pattern).parts
            cut = next(i for i, p in enumerate(parts) if has_magic(p) or i == len(parts) - 1)
            root = PurePosixPath(*parts[:cut])
            shown = f"{parts[1]}//{'/'.join(parts[2:cut])}"
            where = f"{source_key}.paths[{j}] ({pattern!r})"
            for key, path in own.items():
                if path == root or _inside(path, root):  # reached or not, as for a local root
                    raise DirProblem(
                        key,
                        f"{dirs[key]} lies in {shown}, the source root of {where}: a build "
                        "could read its own output back; move it out of the sources",
                    )
                if _inside(root, path):
                    raise DirProblem(
                        key, f"{dirs[key]} holds {shown}, which {where} reads; keep them apart"
                    )


def _pattern_of(root: Path, patterns: Sequence[str], file: Path) -> int:
    for j, pattern in enumerate(patterns):
        if any(Path(p).resolve() == file for p in expand_glob(rooted(root, pattern))):
            return j
    return 0
