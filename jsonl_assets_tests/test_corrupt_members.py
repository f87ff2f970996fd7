"""A gzip member or zstd frame whose checksum fails never reaches the package: every record on
its lines is quarantined as `corrupt_file` (with its raw bytes), the records of members that
verify are written, and read = written + quarantined. Other formats than JSONL quarantine every
record of such a file. A file that merely ends early keeps every complete record before the
cut (its bytes are a prefix of the content)."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import orjson
import zstandard

from jsonl_assets_tests.values_helpers import (
    build,
    doc,
    doc_line,
    make_cpt_project,
    quarantined,
    shard_records,
)


def _lines(first: int, count: int) -> bytes:
    return b"".join(doc_line(i) + b"\n" for i in range(first, first + count))


def _flip_in(member: bytes, needle: bytes) -> bytes:
    """`member` (stored, level 0) with the `w` after `needle` turned into `W`: still valid
    JSON, another text; only the CRC-32 can tell."""
    at = member.index(needle + b": w") + len(needle) + 2
    damaged = bytearray(member)
    damaged[at] = ord("W")
    return bytes(damaged)


GOOD = 10  # records of a plain file beside the damaged one (n >= 100000): the package has some


def _project(tmp_path: Path, name: str, data: bytes) -> Path:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / name).write_bytes(data)
    (tmp_path / "raw" / "good.jsonl").write_bytes(_lines(100_000, GOOD))
    return make_cpt_project(tmp_path, ["raw/*"])


def _accounted(config: Path, read: int | None) -> tuple[list[int], list[dict]]:
    done = build(config)
    assert done.returncode == 0, done.stdout + done.stderr
    written = sorted(r["metadata"]["n"] for r in shard_records(config))
    assert written[-GOOD:] == list(range(100_000, 100_000 + GOOD))
    written = written[:-GOOD]
    entries = quarantined(config)
    if read is not None:
        assert len(written) + len(entries) == read, (
            len(written),
            Counter(e["reason"] for e in entries),
        )
    assert not any(
        b"number %d: W" % n in orjson.dumps(r) for r in shard_records(config) for n in range(1000)
    )
    return written, entries


def test_a_flipped_byte_in_a_single_gzip_member_publishes_none_of_its_records(
    tmp_path: Path,
) -> None:
    member = _flip_in(gzip.compress(_lines(0, 1000), compresslevel=0, mtime=0), b"number 500")
    written, entries = _accounted(_project(tmp_path, "notes.jsonl.gz", member), 1000)
    assert written == []
    assert {e["reason"] for e in entries} == {"corrupt_file"}
    assert sorted(e["trace"]["line"] for e in entries) == list(range(1, 1001))
    assert "gzip member 0 at compressed offset 0 failed its check" in entries[0]["detail"]
    assert orjson.loads(entries[0]["raw"]) == doc(0)


def test_only_the_records_of_the_bad_gzip_member_are_quarantined(tmp_path: Path) -> None:
    members = [gzip.compress(_lines(250 * k, 250), compresslevel=0, mtime=0) for k in range(4)]
    members[1] = _flip_in(members[1], b"number 321")
    written, entries = _accounted(_project(tmp_path, "notes.jsonl.gz", b"".join(members)), 1000)
    assert written == [*range(250), *range(500, 1000)]
    assert sorted(e["trace"]["line"] for e in entries) == list(range(251, 501))
    assert {e["reason"] for e in entries} == {"corrupt_file"}
    assert "gzip member 1 " in entries[0]["detail"]


def test_a_zstd_frame_failing_its_content_checksum_is_quarantined(tmp_path: Path) -> None:
    cctx = zstandard.ZstdCompressor(write_checksum=True)
    frames = [cctx.compress(_lines(0, 300)), bytearray(cctx.compress(_lines(300, 3000)))]
    frames[1][-1] ^= 0x01  # the stored checksum no longer matches the content
    config = _project(tmp_path, "notes.jsonl.zst", frames[0] + bytes(frames[1]))
    written, entries = _accounted(config, 3300)
    assert written == list(range(300))
    # Every line of the frame, its last block's included, is quarantined with its bytes.
    assert sorted(e["trace"]["line"] for e in entries) == list(range(301, 3301))
    assert {e["reason"] for e in entries} == {"corrupt_file"}
    assert orjson.loads(entries[-1]["raw"]) == doc(3299)
    assert "frame 1 at compressed offset" in entries[-1]["detail"]
    assert "failed its content checksum" in entries[-1]["detail"]


def _zstd_frames(parts: list[bytes], bad: int) -> bytes:
    """`parts` as zstd frames with content checksums, frame `bad`'s checksum damaged; a
    skippable frame (as pzstd writes) before each."""
    cctx = zstandard.ZstdCompressor(write_checksum=True)
    frames = [bytearray(cctx.compress(part)) for part in parts]
    frames[bad][-2] ^= 0x40
    skippable = b"\x50\x2a\x4d\x18" + (3).to_bytes(4, "little") + b"pz!"
    return b"".join(skippable + bytes(frame) for frame in frames)


def test_the_zstd_frames_after_one_failing_its_checksum_are_written(tmp_path: Path) -> None:
    data = _zstd_frames([_lines(0, 100), _lines(100, 100), _lines(200, 100)], bad=1)
    config = _project(tmp_path, "notes.jsonl.zst", data)
    written, entries = _accounted(config, 300)
    assert written == [*range(100), *range(200, 300)]
    assert sorted(e["trace"]["line"] for e in entries) == list(range(101, 201))
    assert {e["reason"] for e in entries} == {"corrupt_file"}
    assert "frame 3 " in entries[0]["detail"]  # the skippable frames count as frames
    acc = orjson.loads((config.parent / "package" / "metadata.json").read_bytes())
    sources = acc["extensions"]["x-jsonl-assets"]["accounting"]["cpt|train"]["sources"]
    assert sources["notes"]["unread_files"] == 0


def test_a_zstd_json_array_with_a_bad_frame_quarantines_every_record(tmp_path: Path) -> None:
    body = b"[" + b",\n".join(doc_line(i) for i in range(90)) + b"]"
    data = _zstd_frames([body[:2000], body[2000:4000], body[4000:]], bad=1)
    written, entries = _accounted(_project(tmp_path, "notes.json.zst", data), 90)
    assert written == []
    assert sorted(e["trace"]["item"] for e in entries) == list(range(1, 91))
    assert {e["reason"] for e in entries} == {"corrupt_file"}
    assert "every record of this file" in entries[0]["detail"]
    assert orjson.loads(entries[-1]["raw"]) == doc(89)


def test_a_gzip_json_array_with_a_bad_member_quarantines_every_record(tmp_path: Path) -> None:
    body = b"[" + b",\n".join(doc_line(i) for i in range(100)) + b"]"
    member = _flip_in(gzip.compress(body, compresslevel=0, mtime=0), b"number 50")
    written, entries = _accounted(_project(tmp_path, "notes.json.gz", member), 100)
    assert written == []
    assert {e["reason"] for e in entries} == {"corrupt_file"}
    assert "every record of this file" in entries[0]["detail"]


def test_a_truncated_gzip_keeps_every_complete_record_before_the_cut(tmp_path: Path) -> None:
    data = gzip.compress(_lines(0, 1000), mtime=0)
    written, entries = _accounted(
        _project(tmp_path, "notes.jsonl.gz", data[: len(data) // 2]), None
    )
    assert written == list(range(len(written))) and len(written) > 100
    [entry] = entries
    assert entry["reason"] == "corrupt_file" and entry["trace"]["line"] == len(written) + 1
