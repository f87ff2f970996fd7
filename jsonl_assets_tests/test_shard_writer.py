from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path

import orjson
import pytest
import zstandard

from jsonl_assets.core.compression import iter_decompressed
from jsonl_assets.core.shard_families import (
    MAX_SHARDS,
    TooManyShards,
    is_shard_path,
    shard_name_pattern,
)
from jsonl_assets.core.shard_writer import ShardInfo, ShardJournal, ShardWriteError, ShardWriter
from jsonl_assets.core.stage_report import StageError


def _lines(n: int, size: int = 60) -> list[bytes]:
    """Records of about `size` characters that zstd cannot shrink much (hex of sha256)."""
    out = []
    for i in range(n):
        noise = "".join(
            hashlib.sha256(f"{i}/{k}".encode()).hexdigest() for k in range(size // 64 + 1)
        )
        out.append(orjson.dumps({"id": f"r{i}", "text": "é" + noise[:size]}))
    return out


def _joined(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def write_shards(tmp: Path, lines: list[bytes], compression: str = "zstd", **kw) -> list:
    """`lines` written by a `ShardWriter` of family `family` (sft-train) into `tmp/pkg`;
    `level`, `max_records`, `max_bytes`, `committed`, `threads` as the writer takes them."""
    journal = ShardJournal(tmp / "work" / "journal", "fp")
    journal.path.parent.mkdir(parents=True, exist_ok=True)
    writer = ShardWriter(
        tmp / "pkg",
        kw.get("family", "sft-train"),
        compression,
        kw.get("level"),
        kw.get("max_records"),
        kw.get("max_bytes"),
        journal,
        kw.get("committed"),
        kw.get("threads", 1),
    )
    for i, line in enumerate(lines):
        writer.add(line, i)
    return writer.close()


def _read_back(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return b"".join(
            iter_decompressed(handle, {".zst": "zstd", ".gz": "gzip"}.get(path.suffix, "none"))
        )


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_rotation_by_records_reads_back_with_standard_tools(
    tmp_path: Path, compression: str
) -> None:
    lines = _lines(250)
    shards = write_shards(tmp_path, lines, compression, max_records=100)
    assert [s.record_count for s in shards] == [100, 100, 50]
    assert [s.path for s in shards] == [
        f"data/sft-train-0000{i}{ {'none': '.jsonl', 'gzip': '.jsonl.gz', 'zstd': '.jsonl.zst'}[compression] }"
        for i in range(3)
    ]
    joined = b""
    for s in shards:
        raw = (tmp_path / "pkg" / s.path).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == s.sha256
        assert len(raw) == s.bytes
        # Standard library / reference decoders read the multi-frame files.
        if compression == "gzip":
            joined += gzip.decompress(raw)
        elif compression == "zstd":
            joined += (
                zstandard.ZstdDecompressor()
                .stream_reader(io.BytesIO(raw), read_across_frames=True)
                .read()
            )
        else:
            joined += raw
    assert joined == _joined(lines)


def test_gzip_members_have_no_timestamp_or_name(tmp_path: Path) -> None:
    shards = write_shards(tmp_path, _lines(10), "gzip")
    raw = (tmp_path / "pkg" / shards[0].path).read_bytes()
    assert raw[4:8] == b"\0\0\0\0"  # mtime 0
    assert raw[3] & 0x08 == 0  # no FNAME flag


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_rotation_by_on_disk_bytes(tmp_path: Path, compression: str) -> None:
    lines = _lines(400, size=200)
    shards = write_shards(tmp_path, lines, compression, max_bytes=4096)
    assert len(shards) > 3
    for s in shards:
        assert s.bytes <= 4096 or s.record_count == 1
    assert sum(s.record_count for s in shards) == 400
    assert b"".join(_read_back(tmp_path / "pkg" / s.path) for s in shards) == _joined(lines)


def test_single_record_larger_than_limit_gets_its_own_shard(tmp_path: Path) -> None:
    lines = [*_lines(3), orjson.dumps({"big": "x" * 5000}), *_lines(3)]
    shards = write_shards(tmp_path, lines, "none", max_bytes=1024)
    big = [s for s in shards if s.bytes > 1024]
    assert len(big) == 1 and big[0].record_count == 1
    assert b"".join(_read_back(tmp_path / "pkg" / s.path) for s in shards) == _joined(lines)


def test_no_partial_file_is_visible_and_commit_is_atomic(tmp_path: Path) -> None:
    journal = ShardJournal(tmp_path / "journal", "fp")
    writer = ShardWriter(tmp_path / "pkg", "cpt-test", "zstd", None, 1000, None, journal)
    for i, line in enumerate(_lines(2000, size=3000)):
        writer.add(line, i)
        data_dir = tmp_path / "pkg" / "data"  # made by the first shard's write
        visible = [p.name for p in data_dir.glob("*") if not p.name.startswith(".")]
        # While a shard is open only hidden .partial files exist for it; committed ones are whole.
        for name in visible:
            assert name.endswith(".jsonl.zst")
    shards = writer.close()
    assert [p.name for p in (tmp_path / "pkg" / "data").iterdir() if p.name.startswith(".")] == []
    assert len(shards) == 2


def test_resume_from_journal_is_byte_identical(tmp_path: Path) -> None:
    lines = _lines(1000, size=150)
    clean = write_shards(tmp_path / "clean", lines, "zstd", max_records=120, max_bytes=6000)
    # An interrupted run: stops after 5 committed shards, leaving a journal.
    journal = ShardJournal(tmp_path / "resume" / "journal", "fp")
    journal.path.parent.mkdir(parents=True)
    writer = ShardWriter(tmp_path / "resume" / "pkg", "sft-train", "zstd", None, 120, 6000, journal)
    i = 0
    while len(writer.shards) < 5:
        writer.add(lines[i], i)
        i += 1
    del writer  # killed: an open .partial shard may remain
    committed = ShardJournal(tmp_path / "resume" / "journal", "fp").load(
        tmp_path / "resume" / "pkg"
    )
    assert len(committed) == 5
    resumed = write_shards(
        tmp_path / "resume", lines, "zstd", max_records=120, max_bytes=6000, committed=committed
    )
    assert [(s.path, s.sha256) for s in resumed] == [(s.path, s.sha256) for s in clean]


def test_journal_ignores_other_fingerprints_and_torn_lines(tmp_path: Path) -> None:
    lines = _lines(300)
    shards = write_shards(tmp_path, lines, "zstd", max_records=100)
    journal_path = tmp_path / "work" / "journal"
    text = journal_path.read_bytes()
    journal_path.write_bytes(text + b'{"torn')
    assert len(ShardJournal(journal_path, "fp").load(tmp_path / "pkg")) == len(shards)
    assert ShardJournal(journal_path, "other").load(tmp_path / "pkg") == []


def test_disk_full_names_the_shard_and_leaves_no_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = ShardJournal(tmp_path / "journal", "fp")
    writer = ShardWriter(tmp_path / "pkg", "sft-train", "none", None, None, None, journal)
    writer.frame_target = 100

    real_open = open

    class Full(io.RawIOBase):
        def __init__(self, path: str) -> None:
            self._inner = real_open(path, "wb")

        def write(self, data: bytes) -> int:
            raise OSError(28, "No space left on device")

        def close(self) -> None:
            self._inner.close()

    monkeypatch.setattr(
        "jsonl_assets.core.store.local.open", lambda p, mode="r": Full(p), raising=False
    )
    with pytest.raises(ShardWriteError, match=r"sft-train-00000\.jsonl.*No space left"):
        for i, line in enumerate(_lines(50)):
            writer.add(line, i)
    assert list((tmp_path / "pkg" / "data").iterdir()) == []


@pytest.mark.parametrize(("max_records", "max_bytes"), [(37, None), (None, 3000), (50, 5000)])
def test_add_run_matches_adding_one_by_one(tmp_path: Path, max_records, max_bytes) -> None:
    lines = _lines(700, size=120)
    one = write_shards(
        tmp_path / "one", lines, "zstd", max_records=max_records, max_bytes=max_bytes
    )
    journal = ShardJournal(tmp_path / "run" / "journal", "fp")
    journal.path.parent.mkdir(parents=True)
    writer = ShardWriter(
        tmp_path / "run" / "pkg", "sft-train", "zstd", None, max_records, max_bytes, journal
    )
    for start in range(0, 700, 90):  # runs of various lengths, as between rejected lines
        writer.add_run(lines[start : start + 90], start)
    assert [(s.path, s.sha256, s.covered_until) for s in writer.close()] == [
        (s.path, s.sha256, s.covered_until) for s in one
    ]


# Digests of the shards (path, sha256, record count, covered_until) that the writer made for
# 700 records before its frames were found in whole blocks instead of lists of lines: the
# optimisation must not change a byte.
PINNED = {
    ("zstd", 37, None): "1e8874968dec57e9",
    ("zstd", None, 3000): "749ec2bffaefe127",
    ("zstd", 50, 5000): "838a8fa6a68bcc57",
    ("zstd", None, None): "50659027c4cbaea2",
    ("zstd", 200, 20000): "7eb40e1638460af2",
    ("gzip", 37, None): "eab2d02e9a9be49b",
    ("gzip", None, 3000): "74427739abcaf31d",
    ("gzip", 50, 5000): "d1b80b7935319f8c",
    ("gzip", None, None): "c4800cea418f8daf",
    ("gzip", 200, 20000): "fafbc1865cff7392",
}


def _digest(shards: list) -> str:
    key = "|".join(f"{s.path}:{s.sha256}:{s.record_count}:{s.covered_until}" for s in shards)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


# threads 3: frames compressed three at a time, ahead of the one written; a frame that ends
# up in the next shard (by on-disk bytes) sends the frames made after it back to be rebatched.
@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize(("compression", "max_records", "max_bytes"), sorted(PINNED, key=str))
def test_shard_bytes_are_pinned(
    tmp_path: Path, compression: str, max_records: int | None, max_bytes: int | None, threads: int
) -> None:
    lines = _lines(700, size=120)
    one_by_one = write_shards(
        tmp_path / "one",
        lines,
        compression,
        max_records=max_records,
        max_bytes=max_bytes,
        threads=threads,
    )
    assert _digest(one_by_one) == PINNED[(compression, max_records, max_bytes)]
    journal = ShardJournal(tmp_path / "block" / "journal", "fp")
    journal.path.parent.mkdir(parents=True)
    writer = ShardWriter(
        tmp_path / "block" / "pkg",
        "sft-train",
        compression,
        None,
        max_records,
        max_bytes,
        journal,
        compress_threads=threads,
    )
    for start in range(0, 700, 130):  # blocks of whole lines, as between rejected lines
        writer.add_block(_joined(lines[start : start + 130]), start)
    assert _digest(writer.close()) == PINNED[(compression, max_records, max_bytes)]


@pytest.mark.parametrize("compression", ["none", "zstd"])
@pytest.mark.parametrize(("max_records", "max_bytes"), [(None, 700), (7, 1024), (None, 3000)])
def test_frames_made_ahead_give_the_same_shards(
    tmp_path: Path, compression: str, max_records: int | None, max_bytes: int
) -> None:
    # Records of mixed sizes, some over half the byte limit (frames that are split) and some
    # over the whole limit (shards of one record): every branch of the writer, with frames in
    # flight when it is taken.
    sizes = [40, 900, 60, 2000, 120, 30, 700, 5000, 80, 350] * 12
    lines = [
        orjson.dumps(
            {"id": f"r{i}", "text": hashlib.sha256(str(i).encode()).hexdigest() * (n // 64 + 1)}
        )
        for i, n in enumerate(sizes)
    ]
    kw = {"max_records": max_records, "max_bytes": max_bytes}
    one = write_shards(tmp_path / "one", lines, compression, **kw)
    ahead = write_shards(tmp_path / "ahead", lines, compression, threads=3, **kw)
    assert len(one) >= 3
    assert [(s.path, s.sha256, s.record_count, s.covered_until) for s in ahead] == [
        (s.path, s.sha256, s.record_count, s.covered_until) for s in one
    ]
    assert b"".join(_read_back(tmp_path / "ahead" / "pkg" / s.path) for s in ahead) == _joined(
        lines
    )


def test_a_family_past_100000_shards_fails_before_a_six_digit_name(tmp_path: Path) -> None:
    """Shard numbers have the spec's five digits (`NNNNN`): resumed after 99,999 committed
    shards with one record a shard, the writer writes shard 99999 (a name the package's
    checks and GC call ours) and then refuses the 100,001st, naming the partition and the
    limits to raise, without writing any file for it."""
    committed = [
        ShardInfo(
            f"data/sft-train-{n:05d}.jsonl.zst", "zstd", 1, "0" * 64, 1, "sft-train", n, n + 1
        )
        for n in range(MAX_SHARDS - 1)
    ]
    lines = _lines(MAX_SHARDS + 1)
    writer = ShardWriter(tmp_path / "pkg", "sft-train", "zstd", None, 1, None, None, committed)
    writer.add(lines[MAX_SHARDS - 1], MAX_SHARDS - 1)
    with pytest.raises(TooManyShards) as caught:
        writer.add(lines[MAX_SHARDS], MAX_SHARDS)
        writer.close()
    message = str(caught.value)
    assert "sft|train" in message and "100000" in message
    assert "max_records_per_shard" in message and "max_bytes_per_shard" in message
    assert isinstance(caught.value, StageError)
    written = sorted(p.name for p in (tmp_path / "pkg" / "data").iterdir())
    assert written == ["sft-train-99999.jsonl.zst"]
    assert shard_name_pattern("sft-train").match(written[0])
    assert is_shard_path(f"data/{written[0]}")
