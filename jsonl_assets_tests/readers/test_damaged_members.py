"""Records on the lines of a gzip member / zstd frame failing its checksum are `corrupt_file`:
each record finds its damaged member by bisection over the members (in line order), not by a
scan of all of them (time records x damaged members: 16,000 one-line members, every other
one bad, took 12 s; the 50,000 here take minutes with the scan, a second or two without)."""

from __future__ import annotations

import gzip
import random
import struct
from pathlib import Path
from typing import Any

import pytest
import zstandard

from jsonl_assets.core.readers import ReadLimits, SourceFile, read_source
from jsonl_assets.core.traces import Rejection

N = 50_000


def _gzip_member(data: bytes, bad: bool) -> bytes:
    member = bytearray(gzip.compress(data, mtime=0))
    if bad:  # the CRC-32 in the trailer: the member decodes, its check fails
        member[-8:-4] = struct.pack("<I", struct.unpack("<I", member[-8:-4])[0] ^ 1)
    return bytes(member)


_ZSTD = zstandard.ZstdCompressor(write_checksum=True)


def _zstd_frame(data: bytes, bad: bool) -> bytes:
    frame = bytearray(_ZSTD.compress(data))
    if bad:  # the content checksum
        frame[-2] ^= 0x40
    return bytes(frame)


MEMBER = {"gzip": _gzip_member, "zstd": _zstd_frame}


def _read(tmp_path: Path, data: bytes) -> tuple[SourceFile, list[Any]]:
    path = tmp_path / "data.jsonl"
    path.write_bytes(data)
    source = SourceFile(path, path.name)
    return source, list(read_source(source, "jsonl", {}, ReadLimits(), tmp_path / "scratch"))


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_many_damaged_members_are_looked_up_in_linear_time(tmp_path: Path, codec: str) -> None:
    lines = [b'{"id":"r%d"}\n' % i for i in range(N)]
    _, items = _read(tmp_path, b"".join(MEMBER[codec](x, i % 2 == 0) for i, x in enumerate(lines)))
    assert len(items) == N
    for line, item in enumerate(items, 1):
        raw = lines[line - 1].rstrip(b"\n")
        if line % 2:  # lines 1, 3, ...: members 0, 2, ..., bad
            assert isinstance(item, Rejection), line
            assert (item.position, item.reason, item.raw) == (line, "corrupt_file", raw)
        else:
            assert item == (line, {"id": f"r{line - 1}"}, raw), line


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
@pytest.mark.parametrize("seed", range(6))
def test_members_cut_inside_lines_quarantine_every_line_a_bad_one_touches(
    tmp_path: Path, codec: str, seed: int
) -> None:
    """Members cut at random bytes (a line shared by two members, members inside one line):
    a record is quarantined iff a bad member touches its line, with the detail of the first."""
    rng = random.Random(seed)
    content = b"".join(b'{"n":%d}\n' % i + b"\n" * (rng.random() < 0.2) for i in range(300))
    cuts = sorted(rng.sample(range(1, len(content)), 60))
    parts = [content[a:b] for a, b in zip([0, *cuts], [*cuts, len(content)], strict=True)]
    data = b"".join(MEMBER[codec](p, rng.random() < 0.3) for p in parts)
    source, items = _read(tmp_path, data)
    damage = source.damage()
    assert damage
    records = [i for i in items if isinstance(i, tuple) or i.reason == "corrupt_file"]
    assert len(records) == 300
    for item in records:
        line = item[0] if type(item) is tuple else item.position
        first = next((d for d in damage if line in d), None)  # the scan: the reference
        if type(item) is tuple:
            assert first is None, item
        else:
            assert first is not None and item.detail.startswith(first.detail + ";"), item
