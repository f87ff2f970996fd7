"""Every shard the writer makes passes a default `verify`'s caps, whatever its records: a
highly compressible shard rotates before it decompresses past the expansion cap (C15)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from jsonl_assets.core.rules import RecordContext
from jsonl_assets.core.verify.shard_stream import ShardStream
from jsonl_assets.core.verify.shards import verify_shard
from jsonl_assets.core.verify.verify_limits import DEFAULT_LIMITS, MiB
from jsonl_assets_tests.test_shard_writer import write_shards


def _documents(n: int, chars: int) -> list[bytes]:
    """cpt records of `chars` times "a": each under the build's 16 MiB record default."""
    return [
        orjson.dumps(
            {
                "id": f"d{i}",
                "messages": [
                    {"role": "document", "content": [{"type": "text", "text": "a" * chars}]}
                ],
            }
        )
        for i in range(n)
    ]


def _write(tmp: Path, lines: list[bytes], compression: str, level: int | None, **kw) -> list:
    return write_shards(tmp, lines, compression, family="cpt-train", level=level, **kw)


@pytest.mark.parametrize(("compression", "level"), [("zstd", None), ("zstd", 19), ("gzip", 9)])
def test_a_highly_compressible_shard_rotates_within_the_default_expansion_cap(
    tmp_path: Path, compression: str, level: int | None
) -> None:
    # 5 x 14 MB of "a": 70 MB decompressed, over 1000x in one shard (the audit's C15 case).
    lines = _documents(5, 14_000_000)
    shards = _write(tmp_path, lines, compression, level)
    assert len(shards) > 1
    content = b""
    for info in shards:
        path = tmp_path / "pkg" / info.path
        with ShardStream.open(path, tmp_path / "pkg") as stream:
            cap = DEFAULT_LIMITS.decompressed_cap(stream.total)
            data = b"".join(stream.chunks(compression, cap))  # raises past a default cap
        assert len(data) <= max(64 * MiB, 1000 * info.bytes)
        content += data
        check = verify_shard(tmp_path / "pkg", info.manifest_entry(), "cpt", RecordContext())
        assert check.error_count == 0, check.findings
        assert check.record_count == info.record_count
    assert content == b"".join(line + b"\n" for line in lines)
    # The rotation is a function of the bytes: frames made ahead and a resumed build agree.
    again = _write(tmp_path / "threads", lines, compression, level, threads=3)
    assert [s.sha256 for s in again] == [s.sha256 for s in shards]
    resumed = _write(tmp_path, lines, compression, level, committed=shards[:1])
    assert [s.sha256 for s in resumed] == [s.sha256 for s in shards]
