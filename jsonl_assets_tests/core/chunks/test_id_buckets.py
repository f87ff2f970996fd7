"""The merge's duplicate search over bucket files equals a plain first-occurrence-wins scan,
including ids that share the high half of their digest (compared whole, never confused)."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import polars as pl

from jsonl_assets.core.chunks.duplicates import Duplicates
from jsonl_assets.core.chunks.id_buckets import BUCKETS, bucket_file, find_duplicates

ENTRY = struct.Struct("<16sQQ")
POSITION_BITS = 40


def _write_chunks(root: Path, chunks: list[list[tuple[bytes, int]]]) -> list[tuple[Path, int]]:
    """Chunk folders whose entries (digest, position) all go to bucket 3, in line order."""
    out = []
    for c, entries in enumerate(chunks):
        folder = root / f"chunk{c}"
        folder.mkdir()
        for b in range(BUCKETS):
            bucket_file(folder, b).touch()
        data = b"".join(ENTRY.pack(d, 2 * i, p) for i, (d, p) in enumerate(entries))
        bucket_file(folder, 3).write_bytes(data)
        out.append((folder, c % 2))
    return out


def _all(found: Duplicates, c: int) -> list[tuple[int, int]]:
    """Chunk `c`'s duplicates, taken in one go."""
    with found.of_chunk(c) as dups:
        taken = dups.before(1 << 62)
        assert dups.left() == 0
    return [(int(line), int(kept)) for line, kept in taken.tolist()]


def test_duplicates_are_the_later_occurrences_in_global_order(tmp_path: Path) -> None:
    rng = random.Random(5)
    same_high = [bytes(8) + bytes([k]) * 8 for k in range(1, 4)]  # one high half, three ids
    pool = [rng.randbytes(16) for _ in range(300)] + same_high
    chunks = [[(rng.choice(pool), rng.randrange(1 << 30)) for _ in range(400)] for _ in range(4)]
    chunks[1][:3] = [(d, 7) for d in same_high]  # first seen in chunk 1...
    chunks[2][10] = (same_high[1], 9)  # ...seen again in chunk 2
    paths = _write_chunks(tmp_path, chunks)

    found, parts, _ = find_duplicates(paths, tmp_path / "ids")

    seen: dict[bytes, int] = {}
    expected: list[list[tuple[int, int]]] = [[] for _ in chunks]
    for c, entries in enumerate(chunks):
        high = (c % 2) << POSITION_BITS
        for i, (digest, position) in enumerate(entries):
            if digest in seen:
                expected[c].append((2 * i, seen[digest]))
            else:
                seen[digest] = high | position
    got_dups = [_all(found, c) for c in range(len(chunks))]
    assert got_dups == expected
    assert any(line == 20 for line, _ in got_dups[2])
    ids = pl.concat([pl.read_ipc(p) for p in parts])
    assert ids.height == len(seen)
    got = {(h, lo): pos for h, lo, pos in ids.iter_rows()}
    want = {
        (int.from_bytes(d[:8], "big"), int.from_bytes(d[8:], "big")): p for d, p in seen.items()
    }
    assert got == want
