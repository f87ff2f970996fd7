"""verify's record check (records.py) and `defaults.system` (package.py): what a walk only
counted is counted in the report, so the totals are those of every finding while the walk
holds a bounded number."""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.verify.package import verify_package
from jsonl_assets_tests.test_package_verifier import cpt_record, write_meta, write_shard


def _package(path: Path, record: dict[str, Any], **defaults: Any) -> None:
    (path / "data").mkdir()
    (path / "data" / "a.jsonl").write_text(json.dumps(record) + "\n")
    meta = {
        "schema_version": "llm-training-data/v1",
        "dataset": {"name": "t"},
        "defaults": {"toolset_id": "ts", **defaults},
        "toolsets": [{"id": "ts", "tools": [{"name": "f"}]}],
        "files": [
            {"split": "train", "objective": "preference", "shards": [{"path": "data/a.jsonl"}]}
        ],
    }
    (path / "metadata.json").write_text(json.dumps(meta))


def test_counted_problems_reach_the_report(tmp_path: Path) -> None:
    m, k = 100, 100  # context calls, empty candidates
    calls = [
        {"type": "tool_call", "name": "f", "call_id": f"c{i}", "arguments": {}} for i in range(m)
    ]
    candidates: list[dict[str, Any]] = [
        {
            "label": "chosen",
            "messages": [{"role": "assistant", "content": [{"type": "text", "text": "a"}]}],
        }
    ]
    candidates += [{"label": "rejected", "messages": []} for _ in range(k)]
    record = {
        "id": "p",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "q"}]},
            {"role": "assistant", "content": calls},
        ],
        "candidates": candidates,
    }
    _package(tmp_path, record)
    report = verify_package(tmp_path)
    assert report.error_count == 0
    # D4: each empty candidate; E7: every context call, in every branch
    assert report.warning_count == k + m * (k + 1)
    assert {f.rule for f in report.findings} == {"D4", "E7"}
    assert len(report.findings) == 40  # 20 per (rule, file), as before
    assert report.omitted == {
        ("D4", "data/a.jsonl"): k - 20,
        ("E7", "data/a.jsonl"): m * (k + 1) - 20,
    }


def test_counted_problems_of_defaults_system_reach_the_report(tmp_path: Path) -> None:
    context = [{"role": "user", "content": [{"type": "text", "text": "q"}]}]
    answer = [{"role": "assistant", "content": [{"type": "text", "text": "a"}]}]
    record = {
        "id": "p",
        "messages": context,
        "candidates": [
            {"label": "chosen", "messages": answer},
            {"label": "rejected", "messages": answer},
        ],
    }
    _package(tmp_path, record, system=[{"type": "text"}] * 30)  # D15 x 30
    report = verify_package(tmp_path)
    assert report.error_count == 30
    assert [f.rule for f in report.findings] == ["A13"] * 20
    assert report.omitted == {("A13", "metadata.json"): 10}


def _gzip_members() -> tuple[bytes, bytes]:
    recs = [
        {
            "id": f"r{i}",
            "messages": [{"role": "document", "content": [{"type": "text", "text": "t"}]}],
        }
        for i in range(6)
    ]
    data = [b"".join(json.dumps(r).encode() + b"\n" for r in part) for part in (recs[:3], recs[3:])]
    return gzip.compress(data[0], mtime=0), gzip.compress(data[1], mtime=0)


def _gzip_shard_cases() -> dict[str, bytes]:
    """gzip shards RFC 1952 readers refuse (reserved FLG bits, a wrong header CRC16) or read
    differently (gzip -dc and zlib stop at zeros between members)."""
    one, two = _gzip_members()
    header = one[:3] + bytes([one[3] | 2]) + one[4:10]
    bad_crc = (zlib.crc32(header) & 0xFFFF) ^ 0x5555
    return {
        "reserved header flag bits": one[:3] + bytes([0x20]) + one[4:] + two,
        "header CRC16": header + bad_crc.to_bytes(2, "little") + one[10:] + two,
        "zero padding is allowed only at the end": one + b"\x00" * 8 + two,
    }


def _gzip_package(path: Path, blob: bytes) -> None:
    (path / "data").mkdir()
    (path / "data" / "a.jsonl.gz").write_bytes(blob)
    shard = {
        "path": "data/a.jsonl.gz",
        "compression": "gzip",
        "record_count": 6,
        "sha256": hashlib.sha256(blob).hexdigest(),
    }
    meta = {
        "schema_version": "llm-training-data/v1",
        "dataset": {"name": "t"},
        "files": [{"split": "train", "objective": "cpt", "shards": [shard]}],
    }
    (path / "metadata.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("case", sorted(_gzip_shard_cases()))
def test_gzip_shards_rfc_1952_readers_refuse_are_c15(tmp_path: Path, case: str) -> None:
    _gzip_package(tmp_path, _gzip_shard_cases()[case])
    report = verify_package(tmp_path)
    c15 = [f.message for f in report.findings if f.rule == "C15"]
    assert len(c15) == 1 and case in c15[0], report.findings
    assert not report.ok


def test_zero_padding_at_the_end_of_a_gzip_shard_is_valid(tmp_path: Path) -> None:
    one, two = _gzip_members()
    _gzip_package(tmp_path, one + two + b"\x00" * 8)
    report = verify_package(tmp_path)
    assert report.ok and report.records_checked == 6, report.findings


BAD_UTF8 = [
    (b'{"id": "c2", "x": "\xff"}', "invalid UTF-8 at byte 19 (0xff: invalid start byte)"),
    (b'{"id": "c2", "x": "\xe2\x82"}', "invalid UTF-8 at byte 19 (0xe2: invalid continuation"),
    (b'{"id": "c2", "x": "\xed\xa0\x80"}', "invalid UTF-8 at byte 19 (0xed 0xa0: a UTF-16 surr"),
]


@pytest.mark.parametrize(("line", "reason"), BAD_UTF8)
def test_a_line_that_is_not_utf8_says_so_and_where(
    tmp_path: Path, line: bytes, reason: str
) -> None:
    """orjson calls every byte that is not UTF-8 a surrogate: verify names the byte and its
    offset instead, in a shard (D1), the asset index (G2) and metadata.json (A1)."""
    shard = write_shard(tmp_path, "data/cpt-train-00000.jsonl", [cpt_record("c1")])
    path = tmp_path / shard["path"]
    path.write_bytes(path.read_bytes() + line + b"\n")
    shard.pop("sha256")
    shard["record_count"] = 2
    (tmp_path / "assets.jsonl").write_bytes(b'{"asset_id": "a", "uri": "u"}\n' + line + b"\n")
    write_meta(
        tmp_path,
        [{"split": "train", "objective": "cpt", "shards": [shard]}],
        asset_index={"path": "assets.jsonl", "format": "jsonl"},
    )
    report = verify_package(tmp_path)
    found = {(f.rule, f.line): f.message for f in report.findings if f.rule in ("D1", "G2")}
    assert found.keys() == {("D1", 2), ("G2", 2)}, report.findings
    for message in found.values():
        assert message.startswith(f"line is not valid JSON: {reason}"), message
        assert "surrogates not allowed" not in message

    meta = tmp_path / "metadata.json"
    meta.write_bytes(meta.read_bytes()[:-1] + b', "x": "\xff"}')
    offset = meta.read_bytes().index(b"\xff")
    (a1,) = [f.message for f in verify_package(tmp_path).findings if f.rule == "A1"]
    assert a1 == (
        f"metadata.json is not valid JSON: invalid UTF-8 at byte {offset} "
        "(0xff: invalid start byte)"
    )
