"""The merge's duplicates are spilled to work files bucket by bucket and read back a batch
at a time: nothing is kept per duplicate for the whole partition (Python's own allocations,
numpy's included, are measured with tracemalloc), and what is read back, in any batch
sizes, equals a first-occurrence-wins scan."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from jsonl_assets.core.chunks.id_buckets import BucketFiles, find_duplicates

CHUNKS = 4
IDS = 3000  # distinct ids, spread over every bucket
if TYPE_CHECKING:
    from jsonl_assets.core.chunks.duplicates import Duplicates

REPEATS = 20  # each id in each chunk's part REPEATS times


def _chunks(root: Path) -> tuple[list[tuple[Path, int]], list[list[tuple[int, int]]]]:
    """CHUNKS chunk folders written by BucketFiles (id i of line n: i = n % IDS), and the
    duplicates a plain first-occurrence scan finds, per chunk."""
    digests = [hashlib.sha256(b"%d" % i).digest()[:16] for i in range(IDS)]
    per_chunk = IDS * REPEATS // CHUNKS
    seen: dict[int, int] = {}
    expected: list[list[tuple[int, int]]] = []
    out = []
    for c in range(CHUNKS):
        folder = root / f"chunk{c}"
        files = BucketFiles(folder)
        ids = [(c * per_chunk + n) % IDS for n in range(per_chunk)]
        for start in range(0, per_chunk, 1000):
            lines = list(range(start, min(per_chunk, start + 1000)))
            files.add([digests[ids[n]] for n in lines], lines, [7 * n for n in lines])
        files.commit()
        dups = []
        for n, i in enumerate(ids):
            if i in seen:
                dups.append((n, seen[i]))
            else:
                seen[i] = 7 * n  # file index 0: the position as is
        expected.append(dups)
        out.append((folder, 0))
    return out, expected


def _taken(found: Duplicates, c: int, step: int) -> list[tuple[int, int]]:
    got: list[tuple[int, int]] = []
    with found.of_chunk(c) as dups:
        for end in range(step, IDS * REPEATS + step, step):
            got.extend((int(line), int(kept)) for line, kept in dups.before(end).tolist())
        assert dups.left() == 0
    return got


def test_spilled_duplicates_read_back_in_line_order_in_any_batches(tmp_path: Path) -> None:
    chunks, expected = _chunks(tmp_path)
    found, _, _ = find_duplicates(chunks, tmp_path / "ids")
    assert found.count == sum(map(len, expected)) > IDS * REPEATS // 2
    for c in range(CHUNKS):
        for step in (1, 37, 5000, 1 << 40):
            assert _taken(found, c, step) == expected[c]
    assert sorted(p.name for p in (tmp_path / "ids").glob("dups.*"))  # spilled to files
    found.remove()
    assert not list((tmp_path / "ids").glob("dups.*"))


def test_the_search_keeps_no_python_object_per_duplicate(tmp_path: Path) -> None:
    chunks, expected = _chunks(tmp_path)
    duplicates = sum(map(len, expected))
    # Once before measuring: the modules the search imports on first use (run alone, their
    # import was most of the peak) are not what is measured.
    find_duplicates(chunks, tmp_path / "warm")
    tracemalloc.start()
    try:
        found, _, _ = find_duplicates(chunks, tmp_path / "ids")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Held for the whole partition, 16 bytes a duplicate would already be 16 * duplicates;
    # a bucket at a time (of 16), with its line indices and chunks, stays well below that.
    assert peak < 8 * duplicates, (peak, duplicates)
    assert found.count == duplicates


def test_a_chunks_bucket_files_are_written_as_batches_come(tmp_path: Path) -> None:
    """Written through a bounded buffer, under temporary names until commit, in the
    `<16s digest><u64 line><u64 position>` entries the merge reads."""
    folder = tmp_path / "chunk"
    files = BucketFiles(folder)
    batch, batches = 16384, 48  # 786,432 entries: 24 MiB of entries
    rng = np.random.default_rng(3)
    tracemalloc.start()
    try:
        for b in range(batches):
            raw = rng.bytes(16 * batch)
            digests = [raw[k : k + 16] for k in range(0, len(raw), 16)]
            lines = list(range(b * batch, (b + 1) * batch))
            files.add(digests, lines, lines)
            del digests, raw
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 12 << 20, peak  # not the 24 MiB of entries
    assert not list(folder.glob("ids.*.bin"))  # nothing complete before commit
    files.commit()
    written = sorted(folder.glob("ids.*.bin"))
    assert len(written) == 16
    assert sum(p.stat().st_size for p in written) == 32 * batch * batches
    assert not [p for p in folder.iterdir() if p not in written]


def test_bucket_entries_are_the_digest_the_line_and_the_position(tmp_path: Path) -> None:
    import struct

    folder = tmp_path / "chunk"
    files = BucketFiles(folder)
    digests = [bytes([0, b]) + bytes(range(14)) for b in (3, 19, 3, 5)]  # buckets 3, 3, 3, 5
    files.add(digests, [10, 11, 12, 13], [100, 1 << 45, 102, 103])
    files.commit()
    pack = struct.Struct("<16sQQ").pack
    assert (folder / "ids.03.bin").read_bytes() == b"".join(
        [pack(digests[0], 10, 100), pack(digests[1], 11, 1 << 45), pack(digests[2], 12, 102)]
    )
    assert (folder / "ids.05.bin").read_bytes() == pack(digests[3], 13, 103)
    assert (folder / "ids.00.bin").read_bytes() == b""


def test_an_aborted_chunk_leaves_no_bucket_file(tmp_path: Path) -> None:
    folder = tmp_path / "chunk"
    files = BucketFiles(folder)
    files.add([bytes(16)] * 3, [0, 1, 2], [0, 1, 2])
    files.abort()
    assert not list(folder.glob("ids.*")) and not [p for p in folder.rglob("*") if p.is_file()]
