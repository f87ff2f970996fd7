"""The local file system as a `Store`: temporary file, fsync, rename, folder fsync.

Writes go to a hidden `.<name>.partial` beside the final name (see atomic_files.py), which
is renamed over it at `commit()` and the folder fsynced. `move_in` renames, or copies under
a temporary name when the source is on another file system (EXDEV). `publish` compares the
current version's tag before it writes (with `ABSENT`, a hard link creates the name only if
it is free); the caller holds the package's manifest lock, so no
other build of this project publishes in between.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat as stat_module
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar, Final

from jsonl_assets.core.fault_points import reached
from jsonl_assets.core.store.atomic_files import (
    PARTIAL_SUFFIX,
    fsync_dir,
    partial_path,
    raise_named,
)
from jsonl_assets.core.store.base import (
    ABSENT,
    Entry,
    FileStat,
    PreconditionFailed,
    StorePath,
    VersionChanged,
    committed,
    copy_file_in,
    ensure_version,
    local_path,
)

COPY_CHUNK: Final = 4 << 20


def _remove_dead_writers_partials(path: Path) -> None:
    """The `.partial` files of `path` that writers since killed left (their pid is gone):
    a rerun leaves no trace of a writer killed before its rename, as with a shared name.
    The untagged `.<name>.partial` goes too: versions before 950e546 wrote every publish
    there, so an old build killed before its first rename of metadata.json left it. Now only
    a publish that must replace (metadata.json, under the package lock) or one on a file
    system without hard links (`commit_new` False) writes it, each after this call; two
    publishes if absent racing on such a file system shared that one name before too."""
    prefix = f".{path.name}."
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    legacy = partial_path(path).name
    for name in names:
        pid = _writer_pid(name) if name.startswith(prefix) else None
        if name == legacy or (pid is not None and not _alive(pid)):
            with contextlib.suppress(OSError):
                os.unlink(path.parent / name)


def _writer_pid(name: str) -> int | None:
    """The pid a writer's own `.partial` is tagged with (`LocalAtomicWrite(unique=True)`:
    `.<target>.<pid>-<8 hex>.partial`), or None for another name."""
    if not name.endswith(PARTIAL_SUFFIX):
        return None
    tag = name[: -len(PARTIAL_SUFFIX)].rpartition(".")[2]
    pid, sep, token = tag.partition("-")
    return int(pid) if sep and pid.isascii() and pid.isdigit() and len(token) == 8 else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (a pid past the C long)
        return False
    except OSError:
        return True  # another user's: not ours to remove
    return True


class LocalAtomicWrite:
    """A `.partial` file that becomes `path` at `commit()` (fsynced, renamed, folder fsynced)."""

    def __init__(self, path: Path, unique: bool = False) -> None:
        self.path = path
        # `unique`: a `.partial` of this writer's own, for writers that may race (commit_new):
        # a shared one would be truncated and linked by the other writer.
        tag = f"{os.getpid()}-{secrets.token_hex(4)}" if unique else ""
        self._tmp = partial_path(path, tag)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._handle: BinaryIO = open(self._tmp, "wb")  # noqa: SIM115 - commit/abort
            except FileNotFoundError:  # a GC removed the folder, empty, just then: once more
                path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = open(self._tmp, "wb")  # noqa: SIM115
        except OSError as exc:
            raise_named(exc, path)

    def write(self, data: bytes) -> int:
        try:
            return self._handle.write(data)
        except OSError as exc:
            raise_named(exc, self.path)

    def fileno(self) -> int:
        return self._handle.fileno()

    def _close_durably(self) -> None:
        """The `.partial` file's bytes on disk (flushed, fsynced) and the file closed."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        reached("before_rename:" + self.path.name)

    def commit(self) -> None:
        try:
            self._close_durably()
            os.replace(self._tmp, self.path)
            fsync_dir(self.path.parent)
        except OSError as exc:
            self.abort()
            raise_named(exc, self.path)

    def commit_new(self) -> bool:
        """`commit`, but only if nothing is at `path`: the `.partial` is hard-linked to the
        name, which fails if the name exists (`PreconditionFailed`), so of two writers one
        creates it and the other finds it. False, committing nothing, when the file system
        has no hard links (the caller compares, then commits)."""
        try:
            self._close_durably()
            os.link(self._tmp, self.path)
        except FileExistsError:
            self.abort()
            raise PreconditionFailed(f"{self.path} exists (expected none)") from None
        except OSError as exc:
            if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                return False
            self.abort()
            raise_named(exc, self.path)
        self.abort()  # the name holds the bytes now; the `.partial` link goes
        fsync_dir(self.path.parent)
        return True

    def abort(self) -> None:
        """Close and delete the `.partial` file (also when closing fails: a full disk makes
        the flush of its last buffered bytes fail, and the file is thrown away anyway)."""
        try:
            if not self._handle.closed:
                self._handle.close()
        except OSError:
            pass
        finally:
            self._tmp.unlink(missing_ok=True)


def _stat(st: os.stat_result) -> FileStat:
    return FileStat(
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        inode=st.st_ino,
        ctime_ns=st.st_ctime_ns,
        is_dir=stat_module.S_ISDIR(st.st_mode),
    )


def _path(path: StorePath) -> Path:
    return Path(local_path(path))


class NotRegularFile(OSError):
    """A path opened for reading that is not a regular file (a FIFO, a device, a socket)."""


def _open_regular(path: Path) -> BinaryIO:
    """`path` opened for reading, refused unless it is a regular file: opened without
    blocking (a FIFO named like a marker or a metadata.json would wait for a writer forever)
    and judged by its `fstat`; a folder is the IsADirectoryError `open` raises."""
    return open(path, "rb", opener=_regular_fd)


def _regular_fd(path: str, flags: int) -> int:
    fd = os.open(path, flags | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if stat_module.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        if not stat_module.S_ISREG(mode):
            raise NotRegularFile(errno.EINVAL, "not a regular file", path)
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


class LocalStore:
    """The `Store` of plain paths and `file://` URLs."""

    SCHEMES: ClassVar[tuple[str, ...]] = ("", "file")
    PINS_READS: ClassVar[bool] = False
    POLARS_READS: ClassVar[bool] = True

    def open_read(
        self,
        path: StorePath,
        start: int = 0,
        end: int | None = None,
        version: FileStat | None = None,
    ) -> BinaryIO:
        handle = _open_regular(_path(path))
        if version is not None:
            try:
                ensure_version(version, _stat(os.fstat(handle.fileno())))
            except VersionChanged:
                handle.close()
                raise
        if start:
            handle.seek(start)
        if end is None:
            return handle
        from io import BytesIO

        with handle:
            return BytesIO(handle.read(max(0, end - start)))

    def open_atomic(self, path: StorePath, shared: bool = False) -> LocalAtomicWrite:
        if shared:  # a killed writer's own temporary is found by no other name: clear it here
            _remove_dead_writers_partials(_path(path))
        return LocalAtomicWrite(_path(path), unique=shared)

    def append(self, path: StorePath, data: bytes) -> None:
        target = _path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def list(self, folder: StorePath) -> Iterator[Entry]:
        try:
            with os.scandir(_path(folder)) as entries:
                for e in entries:
                    yield Entry(e.name, e.is_dir(follow_symlinks=False), e.is_symlink())
        except (FileNotFoundError, NotADirectoryError):
            return

    def stat(self, path: StorePath) -> FileStat | None:
        try:
            return _stat(os.stat(_path(path)))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def publish(self, path: StorePath, data: bytes, expected_tag: str | None = None) -> FileStat:
        target = _path(path)
        _remove_dead_writers_partials(target)
        if expected_tag == ABSENT:
            out = LocalAtomicWrite(target, unique=True)
            try:
                out.write(data)
            except BaseException:
                out.abort()
                raise
            if out.commit_new():
                st = self.stat(target)
                assert st is not None
                return st
            out.abort()
        if expected_tag is not None:
            now = self.stat(target)
            found = ABSENT if now is None else now.tag
            if found != expected_tag:
                raise PreconditionFailed(
                    f"{target} changed meanwhile (version {found}, expected {expected_tag})"
                )
        with committed(self.open_atomic(target)) as out:
            out.write(data)
        st = self.stat(target)
        assert st is not None
        return st

    def move_in(self, source: StorePath, path: StorePath) -> None:
        source = _path(source)
        target = _path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            try:
                os.replace(source, target)
            except FileNotFoundError:
                if not source.exists():
                    raise
                # a GC removed the folder, empty, just then (package_gc._remove_if_empty)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            copy_file_in(self, source, target, COPY_CHUNK)
            source.unlink()
            return
        fsync_dir(target.parent)

    def remove_partials(self, folder: StorePath, prefix: str = "") -> int:
        removed = 0
        for entry in list(self.list(folder)):
            name = entry.name
            if name.startswith("." + prefix) and name.endswith(PARTIAL_SUFFIX):
                pid = _writer_pid(name)
                if pid is not None and _alive(pid):
                    continue  # another process's write in progress (a shared folder)
                self.remove(_path(folder) / name)
                removed += 1
        return removed

    def remove(self, path: StorePath, missing_ok: bool = True, recursive: bool = False) -> None:
        target = _path(path)
        if recursive and target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=missing_ok)
