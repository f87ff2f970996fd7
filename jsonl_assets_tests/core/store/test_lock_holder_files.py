"""The package lock's holder record is written through `<holder>.<pid>.tmp`: a failed or
killed write leaves no temporary in the package dir (it stayed there through later
successful builds, `--force` included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jsonl_assets.core.store.package_lock import HOLDER_NAME, PackageLock


def _temporaries(package: Path) -> list[str]:
    return sorted(p.name for p in package.glob(f"{HOLDER_NAME}.*.tmp"))


def test_a_failed_holder_write_leaves_no_temporary(tmp_path: Path) -> None:
    (tmp_path / HOLDER_NAME).mkdir()  # os.replace cannot put the record there
    lock = PackageLock(tmp_path, "jsonl-assets build")
    with pytest.raises(OSError):
        lock.acquire()
    lock.release()
    assert _temporaries(tmp_path) == []


def test_a_killed_holders_temporary_goes_with_the_next_lock(tmp_path: Path) -> None:
    (tmp_path / f"{HOLDER_NAME}.4242.tmp").write_bytes(b'{"pid"')
    lock = PackageLock(tmp_path, "jsonl-assets build")
    lock.acquire()
    try:
        assert _temporaries(tmp_path) == []
        assert (tmp_path / HOLDER_NAME).is_file()
    finally:
        lock.release()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
