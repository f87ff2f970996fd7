"""Work files: written under a temporary name and renamed at commit, in the caller's thread or
(for the largest hand-off file) by a helper thread, with the same bytes and the same errors."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from jsonl_assets.core.store import work_files
from jsonl_assets.core.store.atomic_files import partial_path
from jsonl_assets.core.store.work_files import WorkFileWriter


@pytest.mark.parametrize("background", [False, True], ids=["inline", "background"])
def test_bytes_are_committed_whole(tmp_path: Path, background: bool) -> None:
    path = tmp_path / "work" / "transformed.jsonl"
    lines = [b"%d line of some length\n" % i for i in range(50_000)]
    writer = WorkFileWriter(path, buffer_bytes=64 << 10, background=background)
    for start in range(0, len(lines), 1000):
        writer.write_many(lines[start : start + 1000])
        assert not path.exists()  # nothing under the final name before the commit
    writer.commit()
    assert path.read_bytes() == b"".join(lines)
    assert writer.bytes_written == path.stat().st_size
    assert not partial_path(path).exists()


@pytest.mark.parametrize("background", [False, True], ids=["inline", "background"])
def test_a_failed_write_names_the_file_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, background: bool
) -> None:
    path = tmp_path / "transformed.jsonl"
    real = work_files.write_partial
    calls = []

    def full_disk(handle, data, final):  # type: ignore[no-untyped-def]
        calls.append(len(data))
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, f"cannot write {final}: No space left on device")
        real(handle, data, final)

    monkeypatch.setattr(work_files, "write_partial", full_disk)
    writer = WorkFileWriter(path, buffer_bytes=1024, background=background)
    with pytest.raises(OSError, match="No space left on device") as failure:
        for _ in range(10):
            writer.write(b"x" * 2000)
        writer.commit()
    assert str(path) in str(failure.value)
    writer.abort()
    assert not path.exists() and not partial_path(path).exists()
