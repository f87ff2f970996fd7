"""The storage seam (core/store/base.py): every file a build writes or reads goes through the
`Store` chosen by `store_for`, so a second backend is one module (its class names its SCHEMES)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from jsonl_assets.core.store import base
from jsonl_assets.core.store.base import ABSENT, PreconditionFailed, StorePath, store_for
from jsonl_assets.core.store.local import LocalAtomicWrite, LocalStore
from jsonl_assets_tests import test_restart as restart

LOCKS = (".lock", ".jsonl-assets")  # the locks stay local (many workers: issue 16)


class RecordingStore(LocalStore):
    """The local store, noting each path it was asked to write, remove or read."""

    written: ClassVar[set[Path]] = set()
    read: ClassVar[set[Path]] = set()

    def open_read(self, path: StorePath, start: int = 0, end: int | None = None, version=None):  # type: ignore[no-untyped-def]
        self.read.add(Path(path))
        return super().open_read(path, start, end, version)

    def open_atomic(self, path: StorePath, shared: bool = False) -> LocalAtomicWrite:
        self.written.add(Path(path))
        return super().open_atomic(path, shared)

    def publish(self, path: StorePath, data: bytes, expected_tag: str | None = None):  # type: ignore[no-untyped-def]
        self.written.add(Path(path))
        return super().publish(path, data, expected_tag)

    def append(self, path: StorePath, data: bytes) -> None:
        self.written.add(Path(path))
        super().append(path, data)

    def move_in(self, source: Path, path: StorePath) -> None:
        self.written.add(Path(path))
        super().move_in(source, path)


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> type[RecordingStore]:
    monkeypatch.setitem(base.backends(), "", RecordingStore)
    monkeypatch.setattr(base, "_stores", {})
    RecordingStore.written.clear()
    RecordingStore.read.clear()
    return RecordingStore


def _files(root: Path) -> set[Path]:
    return {
        p
        for p in root.rglob("*")
        if p.is_file() and not any(p.name.startswith(lock) for lock in LOCKS)
    }


def test_every_file_a_build_writes_or_reads_goes_through_the_store(
    tmp_path: Path, recording: type[RecordingStore]
) -> None:
    config = restart.make_project(tmp_path, chats=200, notes=600)
    restart.build_stages(config)
    data = config.parent  # package/, quarantine/ and work/ beside the config
    outputs = _files(data / "package") | _files(data / "quarantine") | _files(data / "work")
    assert data / "package" / "metadata.json" in outputs
    assert sorted(outputs - recording.written) == []
    assert sorted(_files(tmp_path / "raw") - recording.read) == []


def test_publish_replaces_only_the_version_it_was_told_of(tmp_path: Path) -> None:
    store = store_for(tmp_path)
    path = tmp_path / "metadata.json"
    first = store.publish(path, b"one", expected_tag=ABSENT)
    with pytest.raises(PreconditionFailed):
        store.publish(path, b"two", expected_tag=ABSENT)
    path.write_bytes(b"someone else")  # another writer in between
    with pytest.raises(PreconditionFailed):
        store.publish(path, b"two", expected_tag=first.tag)
    assert path.read_bytes() == b"someone else"
    now = store.stat(path)
    assert now is not None
    assert store.publish(path, b"three", expected_tag=now.tag).size == 5
    assert path.read_bytes() == b"three"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metadata.json"]


def test_reads_are_streams_with_ranges_and_writes_appear_whole(tmp_path: Path) -> None:
    store = store_for(f"file://{tmp_path}")
    path = tmp_path / "sub" / "x.bin"
    out = store.open_atomic(path)
    out.write(b"0123456789")
    assert store.stat(path) is None  # nothing under the final name before commit
    out.commit()
    with store.open_read(path, 2, 5) as handle:
        assert handle.read() == b"234"
    with store.open_read(path, 7) as handle:
        assert handle.read() == b"789"
    assert [(e.name, e.is_dir) for e in store.list(tmp_path / "sub")] == [("x.bin", False)]
    store.remove(path)
    assert list(store.list(tmp_path / "sub")) == [] and store.stat(path) is None
    with pytest.raises(FileNotFoundError):
        store.open_read(path)


def test_an_aborted_write_leaves_nothing(tmp_path: Path) -> None:
    out = store_for(tmp_path).open_atomic(tmp_path / "x.bin")
    out.write(b"data")
    out.abort()
    assert list(tmp_path.iterdir()) == []


def test_move_in_copies_across_file_systems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = tmp_path / "work" / "a", tmp_path / "package" / "data" / "a"
    source.parent.mkdir()
    source.write_bytes(b"shard")
    real = os.replace

    def cross_device(src: StorePath, dst: StorePath) -> None:
        if Path(src) == source:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real(src, dst)

    monkeypatch.setattr(os, "replace", cross_device)
    store_for(target).move_in(source, target)
    assert target.read_bytes() == b"shard" and not source.exists()
    assert [p.name for p in target.parent.iterdir()] == ["a"]  # no temporary left


def test_an_unknown_scheme_is_named_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no storage backend for 'nope://bucket/x'") as raised:
        store_for("nope://bucket/x")
    known = "(nope://); known: plain paths, abfs://, az://, file://, gcs://, gs://, s3://"
    assert known in str(raised.value)
    assert isinstance(store_for(tmp_path), LocalStore)


def test_a_backend_is_found_from_its_module_alone() -> None:
    """Every class of the store package that declares SCHEMES serves them; nothing else does."""
    from jsonl_assets.core.store.azure import AzureStore
    from jsonl_assets.core.store.gcs import GCSStore
    from jsonl_assets.core.store.s3 import S3Store

    found = base.backends()
    assert found == {"": LocalStore, "file": LocalStore, "s3": S3Store, "gs": GCSStore,
                     "gcs": GCSStore, "az": AzureStore, "abfs": AzureStore}  # fmt: skip


@pytest.mark.parametrize(
    ("url", "module", "extra"),
    [("gs://b/k", "gcsfs.core", "gcs"), ("az://c/k", "adlfs", "azure")],
)
def test_a_backend_without_its_client_library_says_what_to_install(
    url: str, module: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    store = type(store_for(url))()  # a fresh instance: no file system made yet
    with pytest.raises(ValueError, match=rf"{url[:5]} locations need .*jsonl-assets\[{extra}\]"):
        store.stat(url)


def test_a_killed_writers_own_partial_is_removed_by_the_next_publish(tmp_path: Path) -> None:
    """A create-if-absent publish writes a `.partial` of its own (writers may race); one a
    killed writer left (its pid gone) is removed, as a shared name would be overwritten."""
    store = store_for(tmp_path)
    left = tmp_path / ".metadata.json.999999999-0a1b2c3d.partial"  # no such pid
    left.write_bytes(b"half")
    store.publish(tmp_path / "metadata.json", b"whole", expected_tag=ABSENT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metadata.json"]


def test_an_old_versions_shared_partial_is_removed_by_a_publish_if_absent(tmp_path: Path) -> None:
    """Versions before 950e546 wrote every publish to the untagged `.<name>.partial`: an old
    build killed before metadata.json's first rename left it, and the first publish of the
    new version (create if absent, with a `.partial` of its own) removes it."""
    store = store_for(tmp_path)
    (tmp_path / ".metadata.json.partial").write_bytes(b"half")
    (tmp_path / ".other.json.partial").write_bytes(b"not this file's")
    store.publish(tmp_path / "metadata.json", b"whole", expected_tag=ABSENT)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.json.partial", "metadata.json"]


def test_remove_partials_leaves_a_live_writers_temporary(tmp_path: Path) -> None:
    # A folder several packages write (a shared quarantine dir): the clean-up of one build
    # must not take away another build's copy in progress.
    store = store_for(tmp_path)
    live = store.open_atomic(tmp_path / "validated.jsonl", shared=True)
    live.write(b"{}\n")
    gone = tmp_path / f".validated.jsonl.{_exited_pid()}-0123abcd.partial"
    gone.write_bytes(b"")
    untagged = tmp_path / ".validated.jsonl.partial"
    untagged.write_bytes(b"")
    assert store.remove_partials(tmp_path) == 2
    assert not gone.exists() and not untagged.exists()
    live.commit()
    assert (tmp_path / "validated.jsonl").read_bytes() == b"{}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["validated.jsonl"]


def test_a_partial_tagged_with_a_non_ascii_digit_is_no_pid_and_never_crashes(
    tmp_path: Path,
) -> None:
    """`"²".isdigit()` is True but int("²") raises: such a name crashed the clean-up."""
    store = store_for(tmp_path)
    odd = tmp_path / ".validated.jsonl.\u00b2-0123abcd.partial"
    odd.write_bytes(b"")
    assert store.remove_partials(tmp_path) == 1
    assert not odd.exists()


def _exited_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
