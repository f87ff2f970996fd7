"""A file hashed by the run's observation is not hashed again by the extraction, unless the
file changed in between (same path, size, mtime, inode and ctime, or it is hashed anew)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from jsonl_assets.core.readers.source_file import SourceFile
from jsonl_assets.core.source_fingerprints import fingerprint_file
from jsonl_assets.core.store import file_hashes


def test_the_observations_hash_is_reused_for_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"a": 1}\n')
    fingerprint, hashed = fingerprint_file(path, None)
    assert hashed and fingerprint.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert file_hashes.known(path.resolve(), path.stat()) == fingerprint.sha256
    # Proof that the extraction asks first: a recorded hash it could not have computed.
    file_hashes.remember(path.resolve(), path.stat(), "f" * 64)
    assert SourceFile(path, "a.jsonl").hash_remaining() == "f" * 64


def test_a_changed_file_is_hashed_again(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"a": 1}\n')
    file_hashes.remember(path.resolve(), path.stat(), "f" * 64)
    path.write_bytes(b'{"a": 2}\n')  # same size, new mtime/ctime
    assert file_hashes.known(path.resolve(), path.stat()) is None
    expected = hashlib.sha256(b'{"a": 2}\n').hexdigest()
    assert SourceFile(path, "a.jsonl").hash_remaining() == expected
