"""Package verifier (checklist A-G, L1) on real packages written to tmp_path."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard

from jsonl_assets.core.dedup import id_digest
from jsonl_assets.core.rules import RecordContext
from jsonl_assets.core.rules.spec_vocabulary import SHARD_EXTENSIONS
from jsonl_assets.core.verify import shards as shard_rules
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets.core.verify.report import FINDINGS_PER_RULE_FILE, Finding, VerifyReport
from jsonl_assets.core.verify.shards import verify_shard

COMPRESSIONS = ["none", "gzip", "zstd"]


# --- package builders ---------------------------------------------------------------------


def text(value: str = "hi") -> dict[str, Any]:
    return {"type": "text", "text": value}


def msg(role: str, *parts: Any) -> dict[str, Any]:
    return {"role": role, "content": list(parts) if parts else [text()]}


def sft_record(rid: str, *, assistant: bool = True) -> dict[str, Any]:
    messages = [msg("user", text(f"question {rid}"))]
    if assistant:
        messages.append(msg("assistant", text(f"answer {rid}")))
    return {"id": rid, "messages": messages}


def tool_record(rid: str) -> dict[str, Any]:
    call = {
        "type": "tool_call",
        "name": "lookup_order",
        "call_id": "c1",
        "arguments": {"order_no": "A-7"},
    }
    result = {
        "type": "tool_result",
        "name": "lookup_order",
        "call_id": "c1",
        "result": {"status": "shipped"},
    }
    return {
        "id": rid,
        "messages": [msg("user"), msg("assistant", call), msg("tool", result), msg("assistant")],
    }


def pref_record(rid: str) -> dict[str, Any]:
    return {
        "id": rid,
        "messages": [msg("user")],
        "candidates": [
            {"candidate_id": "a", "label": "chosen", "messages": [msg("assistant", text("good"))]},
            {"candidate_id": "b", "label": "rejected", "messages": [msg("assistant", text("bad"))]},
        ],
    }


def rft_record(rid: str) -> dict[str, Any]:
    reference = {"grading": {"type": "numeric", "tolerance": 0.01}, "answer": 9.81}
    return {"id": rid, "messages": [msg("user")], "reference": reference}


def cpt_record(rid: str, *, role: str = "document") -> dict[str, Any]:
    image = {"type": "image", "ref": {"asset_id": "leaf-1"}, "mime_type": "image/png", "bytes": 10}
    return {"id": rid, "messages": [msg(role, text("Rock pools form..."), image)]}


def encode(records: list[Any]) -> bytes:
    return b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in records)


def compress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def write_shard(
    pkg: Path, rel: str, records: list[Any], compression: str = "none"
) -> dict[str, Any]:
    """Write a shard and return its correct metadata entry."""
    data = encode(records)
    blob = compress(data, compression)
    path = pkg / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    count = sum(1 for line in data.split(b"\n") if line.strip())
    return {
        "path": rel,
        "compression": compression,
        "record_count": count,
        "sha256": hashlib.sha256(blob).hexdigest(),
    }


def shard_name(prefix: str, split: str, compression: str) -> str:
    return f"data/{prefix}-{split}-00000{SHARD_EXTENSIONS[compression]}"


def write_meta(pkg: Path, files: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    meta = {
        "schema_version": "llm-training-data/v1",
        "dataset": {"name": "test-set", "description": "verifier tests"},
        "files": files,
        **top,
    }
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "metadata.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    return meta


TOOLSETS = [
    {
        "id": "shop-tools",
        "tools": [
            {
                "name": "lookup_order",
                "description": "Fetch an order",
                "input_schema": {
                    "type": "object",
                    "properties": {"order_no": {"type": "string"}},
                    "required": ["order_no"],
                },
                "output_schema": {"type": "object", "properties": {"status": {"type": "string"}}},
            }
        ],
    }
]


def full_package(pkg: Path, compression: str) -> None:
    """A valid package using all four objectives, tools, an asset index and defaults."""
    sft = write_shard(
        pkg,
        shard_name("sft", "train", compression),
        [sft_record("s1"), tool_record("s2")],
        compression,
    )
    pref = write_shard(
        pkg, shard_name("pref", "validation", compression), [pref_record("p1")], compression
    )
    rft = write_shard(pkg, shard_name("rft", "test", compression), [rft_record("q1")], compression)
    cpt = write_shard(pkg, shard_name("cpt", "train", compression), [cpt_record("d1")], compression)
    (pkg / "assets.jsonl").write_bytes(
        encode(
            [
                {
                    "asset_id": "leaf-1",
                    "uri": "s3://photos/leaf-1.png",
                    "mime_type": "image/png",
                    "bytes": 10,
                }
            ]
        )
    )
    write_meta(
        pkg,
        [
            {
                "split": "train",
                "objective": "sft",
                "format": "jsonl",
                "toolset_id": "shop-tools",
                "shards": [sft],
            },
            {"split": "validation", "objective": "preference", "shards": [pref], "notes": "pairs"},
            {"split": "test", "objective": "rft", "shards": [rft]},
            {"split": "train", "objective": "cpt", "shards": [cpt]},
        ],
        data_card={"uri": "https://example.org/card.json"},
        defaults={"system": [text("Be helpful.")], "reasoning_policy": "train"},
        toolsets=TOOLSETS,
        asset_index={"path": "assets.jsonl", "format": "jsonl"},
        extensions={"x-test": {"pipeline": "v1"}},
    )


def simple_package(
    pkg: Path, records: list[Any], compression: str = "none", objective: str = "sft", **entry: Any
) -> dict[str, Any]:
    shard = write_shard(pkg, shard_name(objective, "train", compression), records, compression)
    shard.update(entry.pop("shard", {}))
    write_meta(pkg, [{"split": "train", "objective": objective, "shards": [shard], **entry}])
    return shard


def rules(report: VerifyReport, severity: str | None = None) -> set[str]:
    return {f.rule for f in report.findings if severity is None or f.severity == severity}


def only(report: VerifyReport, rule: str) -> Finding:
    found = [f for f in report.findings if f.rule == rule]
    assert len(found) == 1, report.findings
    return found[0]


# --- valid packages -----------------------------------------------------------------------


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_valid_package_passes(tmp_path: Path, compression: str) -> None:
    full_package(tmp_path, compression)
    report = verify_package(tmp_path, forbid_split_leakage=True)
    assert report.findings == []
    assert report.ok and report.error_count == 0 and report.warning_count == 0
    assert report.shards_checked == 4
    assert report.records_checked == 5


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_lines_split_across_chunks(tmp_path: Path, compression: str) -> None:
    # A 2.5 MB record spans several 1 MiB read chunks; 16k short records cross many boundaries.
    big = sft_record("big")
    big["messages"][1]["content"][0]["text"] = "x" * 2_500_000
    records = [sft_record(f"r{i}") for i in range(8_000)] + [big]
    records += [sft_record(f"t{i}") for i in range(8_000)]
    shard = simple_package(tmp_path, records, compression)
    report = verify_package(tmp_path)
    assert report.findings == []
    assert report.records_checked == 16_001
    check = verify_shard(tmp_path, shard, "sft", RecordContext())
    assert check.record_count == 16_001 and check.findings == []


def test_verify_shard_standalone(tmp_path: Path) -> None:
    records = [
        sft_record("a"),
        sft_record("b"),
        {"id": "c", "messages": [msg("document"), msg("assistant")]},
    ]
    shard = write_shard(tmp_path, "data/sft-train-00000.jsonl.zst", records, "zstd")
    on_disk = (tmp_path / shard["path"]).read_bytes()
    batches: list[tuple[list[bytes], list[int]]] = []
    check = verify_shard(
        tmp_path, shard, "sft", RecordContext(), id_sink=lambda d, ln: batches.append((d, ln))
    )
    assert check.ok and check.findings == []  # D21 is a warning: not reported by default
    assert check.sha256 == hashlib.sha256(on_disk).hexdigest() == shard["sha256"]
    assert check.bytes == len(on_disk)
    assert check.record_count == 3
    assert batches == [([id_digest("a"), id_digest("b"), id_digest("c")], [1, 2, 3])]
    with_warnings = verify_shard(tmp_path, shard, "sft", RecordContext(), warnings=True)
    assert [(f.rule, f.severity, f.line) for f in with_warnings.findings] == [("D21", "warning", 3)]
    assert with_warnings.ok and with_warnings.warning_count == 1


# --- shard and record failures ------------------------------------------------------------


def test_tampered_shard_is_caught(tmp_path: Path) -> None:
    shard = simple_package(tmp_path, [sft_record("a"), sft_record("b")])
    path = tmp_path / shard["path"]
    path.write_bytes(path.read_bytes().replace(b"answer a", b"answer A"))
    report = verify_package(tmp_path)
    assert rules(report) == {"C17"}
    finding = only(report, "C17")
    assert finding.file == shard["path"] and shard["sha256"] in finding.message
    assert not report.ok


def test_wrong_record_count(tmp_path: Path) -> None:
    simple_package(tmp_path, [sft_record("a")], "gzip", shard={"record_count": 2})
    finding = only(verify_package(tmp_path), "C16")
    assert finding.message == "record_count is 2 but the shard holds 1"


@pytest.mark.parametrize("count", [True, -1, 1.5, "1"])
def test_record_count_must_be_a_non_negative_integer(tmp_path: Path, count: object) -> None:
    simple_package(tmp_path, [sft_record("a")], shard={"record_count": count})
    report = verify_package(tmp_path)
    assert rules(report) == {"C16"}
    assert "non-negative integer" in only(report, "C16").message


def test_bad_sha256_format(tmp_path: Path) -> None:
    shard = simple_package(tmp_path, [sft_record("a")])
    shard["sha256"] = shard["sha256"].upper()
    write_meta(tmp_path, [{"split": "train", "objective": "sft", "shards": [shard]}])
    report = verify_package(tmp_path)
    assert report.ok and rules(report) == {"C17"}  # upper case: warning only
    shard["sha256"] = "abc"
    write_meta(tmp_path, [{"split": "train", "objective": "sft", "shards": [shard]}])
    assert rules(verify_package(tmp_path), "error") == {"C17"}


def test_objective_rules_per_line(tmp_path: Path) -> None:
    sft = write_shard(
        tmp_path, "data/sft-train-00000.jsonl", [sft_record("a"), sft_record("b", assistant=False)]
    )
    cpt = write_shard(tmp_path, "data/cpt-train-00000.jsonl", [cpt_record("d1", role="assistant")])
    write_meta(
        tmp_path,
        [
            {"split": "train", "objective": "sft", "shards": [sft]},
            {"split": "train", "objective": "cpt", "shards": [cpt]},
        ],
        asset_index={"path": "assets.jsonl"},
    )
    (tmp_path / "assets.jsonl").write_bytes(
        encode([{"asset_id": "leaf-1", "uri": "file:///x.png"}])
    )
    report = verify_package(tmp_path)
    f1 = only(report, "F1")
    assert (f1.file, f1.line, f1.severity) == ("data/sft-train-00000.jsonl", 2, "error")
    f11 = only(report, "F11")
    assert (f11.file, f11.line) == ("data/cpt-train-00000.jsonl", 1)
    assert f11.message == "messages[0].role: 'assistant' is not allowed in a cpt record"
    assert rules(report, "error") == {"F1", "F11"}


def test_truncated_zstd_shard(tmp_path: Path) -> None:
    # Three frames; the last is cut in half. Records of the first two frames are still read.
    frames = [
        zstandard.ZstdCompressor().compress(encode([sft_record(f"{k}-{i}") for i in range(50)]))
        for k in range(3)
    ]
    blob = frames[0] + frames[1] + frames[2][: len(frames[2]) // 2]
    rel = "data/sft-train-00000.jsonl.zst"
    (tmp_path / "data").mkdir()
    (tmp_path / rel).write_bytes(blob)
    shard = {
        "path": rel,
        "compression": "zstd",
        "record_count": 150,
        "sha256": hashlib.sha256(blob).hexdigest(),
    }
    write_meta(tmp_path, [{"split": "train", "objective": "sft", "shards": [shard]}])
    report = verify_package(tmp_path)
    assert rules(report) == {"C15"}  # the count mismatch is a consequence, not reported
    finding = only(report, "C15")
    assert "compressed offset" in finding.message and finding.file == rel
    assert report.records_checked >= 100
    check = verify_shard(tmp_path, shard, "sft", RecordContext())
    assert check.sha256 == shard["sha256"] and check.bytes == len(blob)


def test_truncated_gzip_shard(tmp_path: Path) -> None:
    shard = simple_package(tmp_path, [sft_record(f"r{i}") for i in range(200)], "gzip")
    path = tmp_path / shard["path"]
    blob = path.read_bytes()[:-12]
    path.write_bytes(blob)
    shard["sha256"] = hashlib.sha256(blob).hexdigest()
    write_meta(tmp_path, [{"split": "train", "objective": "sft", "shards": [shard]}])
    assert rules(verify_package(tmp_path)) == {"C15"}


def test_declared_codec_contradicts_content(tmp_path: Path) -> None:
    shard = write_shard(tmp_path, "data/sft-train-00000.jsonl", [sft_record("a")], "gzip")
    shard["compression"] = "none"
    write_meta(tmp_path, [{"split": "train", "objective": "sft", "shards": [shard]}])
    report = verify_package(tmp_path)
    assert rules(report) == {"C15"}
    assert "content is gzip" in only(report, "C15").message
    assert report.records_checked == 0


def test_extension_disagrees_with_compression(tmp_path: Path) -> None:
    shard = write_shard(tmp_path, "data/sft-train-00000.jsonl.gz", [sft_record("a")], "none")
    write_meta(tmp_path, [{"split": "train", "objective": "sft", "shards": [shard]}])
    report = verify_package(tmp_path)
    assert report.ok and rules(report) == {"C14"}


def test_integral_numbers_written_with_a_fraction_are_counts(tmp_path: Path) -> None:
    """JSON Schema 2020-12 (the spec's schemas) reads 1.0 as the integer 1."""
    media = {"type": "image", "ref": {"uri": "s3://x/a.png"}, "bytes": 10.0}
    record = {"id": "m", "messages": [msg("user", media), msg("assistant", text("ok"))]}
    shard = write_shard(tmp_path, "data/sft-train-00000.jsonl", [record])
    shard["record_count"] = 1.0
    write_meta(tmp_path, [{"split": "train", "objective": "sft", "shards": [shard]}])
    report = verify_package(tmp_path)
    assert report.ok and not rules(report, "error")
    shard["record_count"] = 1.5
    write_meta(tmp_path, [{"split": "train", "objective": "sft", "shards": [shard]}])
    assert rules(verify_package(tmp_path), "error") == {"C16"}


def test_unsafe_shard_paths(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes(encode([sft_record("x")]))
    (pkg / "data").mkdir(parents=True)
    os.symlink(outside, pkg / "data" / "link.jsonl")
    (pkg / "data" / "real.jsonl").write_bytes(encode([sft_record("y")]))
    (pkg / "data" / "real2.jsonl").write_bytes(encode([sft_record("z")]))
    paths = [
        str(outside),
        "../outside.jsonl",
        "data/../../elsewhere.jsonl",
        "data/link.jsonl",
        "C:/data/x.jsonl",
        "s3://bucket/x.jsonl",
        "data/real.jsonl/",  # pathlib drops the slash; `cat` says "Not a directory"
        "data/real2.jsonl/.",
    ]
    write_meta(
        pkg, [{"split": "train", "objective": "sft", "shards": [{"path": p} for p in paths]}]
    )
    report = verify_package(pkg)
    assert rules(report) == {"C12"}
    assert [f.file for f in report.findings] == paths
    assert report.records_checked == 0
    messages = [f.message for f in report.findings]
    assert "is absolute" in messages[0]
    assert "'..' segment" in messages[1] and "'..' segment" in messages[2]
    assert "resolves outside the package directory" in messages[3]
    assert "drive letter or URI scheme" in messages[4] and "URI scheme" in messages[5]
    assert "ends with a separator" in messages[6] and "ends with a separator" in messages[7]


def test_symlink_inside_package_is_fine(tmp_path: Path) -> None:
    shard = write_shard(tmp_path, "real/sft-train-00000.jsonl", [sft_record("a")])
    (tmp_path / "data").mkdir()
    os.symlink(
        tmp_path / "real" / "sft-train-00000.jsonl", tmp_path / "data" / "sft-train-00000.jsonl"
    )
    shard["path"] = "data/sft-train-00000.jsonl"
    write_meta(tmp_path, [{"split": "train", "objective": "sft", "shards": [shard]}])
    assert verify_package(tmp_path).findings == []


def test_missing_shard(tmp_path: Path) -> None:
    write_meta(
        tmp_path, [{"split": "train", "objective": "sft", "shards": [{"path": "data/gone.jsonl"}]}]
    )
    finding = only(verify_package(tmp_path), "C13")
    assert (finding.file, finding.message) == ("data/gone.jsonl", "shard file does not exist")


def test_bad_lines_and_blank_lines(tmp_path: Path) -> None:
    simple_package(
        tmp_path, [sft_record("a"), b"", b'{"id": "b", "messages": [', b"[1, 2]", sft_record("c")]
    )
    report = verify_package(tmp_path)
    assert [(f.rule, f.severity, f.line) for f in report.findings] == [
        ("D2", "warning", 2),
        ("D1", "error", 3),
        ("D1", "error", 4),
    ]
    assert report.records_checked == 4


def test_findings_are_capped_but_counted(tmp_path: Path) -> None:
    shard = simple_package(tmp_path, [b"not json"] * 50 + [sft_record("a")])
    report = verify_package(tmp_path)
    assert len(report.findings) == FINDINGS_PER_RULE_FILE
    assert report.error_count == 50
    assert report.omitted == {("D1", shard["path"]): 50 - FINDINGS_PER_RULE_FILE}


# --- manifest, toolsets, references -------------------------------------------------------


def test_missing_or_broken_metadata(tmp_path: Path) -> None:
    assert rules(verify_package(tmp_path)) == {"A1"}
    (tmp_path / "metadata.json").write_bytes(b"{not json")
    assert rules(verify_package(tmp_path)) == {"A1"}
    (tmp_path / "metadata.json").write_bytes(b"[]")
    assert rules(verify_package(tmp_path)) == {"A1"}


def test_manifest_rules(tmp_path: Path) -> None:
    shard = write_shard(tmp_path, "data/sft-train-00000.jsonl", [sft_record("a")])
    files = [{"split": "train", "objective": "sft", "shards": [shard]}]
    write_meta(tmp_path, files, notes="x", toolsets={})
    report = verify_package(tmp_path)
    assert rules(report) == {"A7", "A8"}
    assert only(report, "A7").message.startswith("notes: unknown top-level key")

    meta = write_meta(
        tmp_path,
        files,
        defaults={
            "system": [{"type": "text"}],
            "toolset_id": "nope",
            "reasoning_policy": "skip",
            "seed": 1,
        },
    )
    meta["schema_version"] = "llm-training-data/v2"
    meta["dataset"] = {"name": " ", "tags": ["a", 1], "created_at": "yesterday", "owner": "me"}
    (tmp_path / "metadata.json").write_bytes(orjson.dumps(meta))
    report = verify_package(tmp_path)
    assert rules(report, "error") == {"A2", "A4", "A9", "A13", "A14"}
    assert rules(report, "warning") == {"A10", "A11", "A15"}
    assert only(report, "A13").message == "defaults.system[0]: 'text' part needs 'text' (D15)"

    write_meta(tmp_path, [])
    assert rules(verify_package(tmp_path)) == {"A6"}


def test_toolset_rules(tmp_path: Path) -> None:
    shard = write_shard(tmp_path, "data/sft-train-00000.jsonl", [sft_record("a")])
    toolsets = [
        {
            "id": "t",
            "tools": [
                {
                    "name": "f",
                    "input_schema": {"type": "object", "properties": {"x": {"type": "str"}}},
                },
                {"name": "f"},
            ],
        },
        {"id": "t", "tools": []},
        {"id": "u", "tools": [{"name": "g", "version": 2, "description": 1, "output_schema": []}]},
    ]
    write_meta(
        tmp_path, [{"split": "train", "objective": "sft", "shards": [shard]}], toolsets=toolsets
    )
    report = verify_package(tmp_path)
    assert rules(report, "error") == {"B2", "B4", "B5", "B6"}
    assert rules(report, "warning") == {"B7"}
    assert only(report, "B7").message == (
        "toolsets[0].tools[0].input_schema.properties.x.type: 'str' is not a JSON Schema type"
    )


def test_bad_toolset_references(tmp_path: Path) -> None:
    records = [tool_record("a"), {**tool_record("b"), "toolset_id": "missing"}]
    simple_package(tmp_path, records, toolset_id="nope")
    meta = orjson.loads((tmp_path / "metadata.json").read_bytes())
    meta["toolsets"] = TOOLSETS
    (tmp_path / "metadata.json").write_bytes(orjson.dumps(meta))
    report = verify_package(tmp_path)
    assert rules(report, "error") == {"C5", "D8"}
    assert only(report, "C5").message == "files[0].toolset_id: unknown toolset 'nope'"
    assert only(report, "D8").line == 2


def test_tool_call_outside_the_toolset(tmp_path: Path) -> None:
    record = tool_record("a")
    for message in record["messages"][1:3]:
        message["content"][0]["name"] = "cancel_order"
    simple_package(tmp_path, [record], toolset_id="shop-tools")
    meta = orjson.loads((tmp_path / "metadata.json").read_bytes())
    meta["toolsets"] = TOOLSETS
    (tmp_path / "metadata.json").write_bytes(orjson.dumps(meta))
    assert rules(verify_package(tmp_path)) == {"E2"}


def test_file_entry_rules(tmp_path: Path) -> None:
    shard = write_shard(tmp_path, "data/sft-train-00000.jsonl", [sft_record("a")])
    other = write_shard(tmp_path, "data/sft-train-00001.jsonl", [sft_record("b")])
    write_meta(
        tmp_path,
        [
            {
                "split": "train",
                "objective": "sft",
                "shards": [shard],
                "format": "json",
                "notes": 3,
                "owner": "x",
            },
            {"split": "dev", "objective": "chat", "shards": []},
            {
                "split": "train",
                "objective": "sft",
                "shards": [other, {**shard, "path": "./data/sft-train-00000.jsonl"}],
            },
            {
                "objective": "sft",
                "shards": [{"path": "data/x.jsonl", "compression": "lz4", "size": 1}],
            },
            "nope",
        ],
    )
    report = verify_package(tmp_path)
    assert rules(report, "error") == {
        "C1",
        "C2",
        "C3",
        "C4",
        "C6",
        "C7",
        "C8",
        "C10",
        "C11",
        "C13",
        "C18",
    }
    assert rules(report, "warning") == {"C19"}


def test_asset_index_rules(tmp_path: Path) -> None:
    records = [
        cpt_record("d1"),
        {"id": "d2", "messages": [msg("document", {"type": "audio", "ref": {"asset_id": "gone"}})]},
    ]
    simple_package(tmp_path, records, objective="cpt")
    meta = orjson.loads((tmp_path / "metadata.json").read_bytes())
    meta["asset_index"] = {"path": "assets.jsonl"}
    (tmp_path / "metadata.json").write_bytes(orjson.dumps(meta))
    assets = [
        {"asset_id": "leaf-1", "uri": "s3://x/leaf-1.png"},
        {"asset_id": "leaf-1", "uri": "s3://x/copy.png"},
        {"asset_id": "unused", "uri": "s3://x/u.png", "bytes": -3, "colour": "red"},
        {"uri": "s3://x/no-id.png"},
    ]
    (tmp_path / "assets.jsonl").write_bytes(encode(assets))
    report = verify_package(tmp_path)
    assert rules(report, "error") == {"D19", "G2", "G3", "G4"}
    assert only(report, "D19").line == 2
    assert only(report, "G4").message == "asset_id 'leaf-1' repeats line 1"
    g5 = only(report, "G5")
    assert (g5.severity, g5.file, g5.line) == ("warning", "assets.jsonl", 3)

    (tmp_path / "assets.jsonl").unlink()
    assert "G1" in rules(verify_package(tmp_path), "error")


def test_an_asset_line_that_repeats_a_key_or_holds_an_inexact_number_is_g2(
    tmp_path: Path,
) -> None:
    """As D1 for a record: a repeated key is an error (a reader keeps one of two values); a
    number a float64/int64 reader changes is valid JSON, a warning."""
    simple_package(tmp_path, [cpt_record("d1")], objective="cpt")
    meta = orjson.loads((tmp_path / "metadata.json").read_bytes())
    meta["asset_index"] = {"path": "assets.jsonl"}
    (tmp_path / "metadata.json").write_bytes(orjson.dumps(meta))
    (tmp_path / "assets.jsonl").write_bytes(
        b'{"asset_id": "a", "uri": "s3://x/a.png", "uri": "s3://x/b.png"}\n'
        b'{"asset_id": "b", "uri": "s3://x/b.png", "bytes": 123456789012345678901234567890}\n'
        b'{"asset_id": "c", "uri": "s3://x/c.png", "metadata": {"w": 0.10000000000000000001}}\n'
        b'{"asset_id": "d", "uri": "s3://x/d.png", "metadata": {"k": "1e400 as text"}}\n'
    )
    report = verify_package(tmp_path)
    g2 = [(f.line, f.message) for f in report.findings if f.rule == "G2"]
    assert [line for line, _ in g2] == [1, 2, 3]
    severities = [f.severity for f in report.findings if f.rule == "G2"]
    assert severities == ["error", "warning", "warning"]
    assert not [f for f in report.findings if f.rule == "G3"]  # a big `bytes` is a count
    assert "repeats the key 'uri'" in g2[0][1]
    assert g2[1][1].startswith("bytes: ") and g2[2][1].startswith("metadata.w: ")


def test_duplicate_ids_and_split_leakage(tmp_path: Path) -> None:
    train = write_shard(
        tmp_path, "data/sft-train-00000.jsonl", [sft_record("a"), sft_record("b"), sft_record("a")]
    )
    valid = write_shard(
        tmp_path, "data/sft-validation-00000.jsonl", [sft_record("b"), sft_record("c")]
    )
    write_meta(
        tmp_path,
        [
            {"split": "train", "objective": "sft", "shards": [train]},
            {"split": "validation", "objective": "sft", "shards": [valid]},
        ],
    )
    report = verify_package(tmp_path)
    assert report.ok and rules(report) == {"D7"}
    assert [(f.file, f.line, f.message) for f in report.findings] == [
        (
            "data/sft-train-00000.jsonl",
            3,
            "duplicate id: first used at data/sft-train-00000.jsonl line 1",
        ),
        (
            "data/sft-validation-00000.jsonl",
            1,
            "duplicate id: first used at data/sft-train-00000.jsonl line 2",
        ),
    ]
    report = verify_package(tmp_path, forbid_split_leakage=True)
    assert not report.ok
    leak = only(report, "L1")
    assert (leak.file, leak.line, leak.severity) == ("data/sft-validation-00000.jsonl", 1, "error")
    assert "validation" in leak.message and "train" in leak.message


def test_large_id_batches(tmp_path: Path) -> None:
    # More ids than one batch, with a duplicate in the second batch of the second shard.
    first = write_shard(
        tmp_path, "data/sft-train-00000.jsonl", [sft_record(f"r{i}") for i in range(9000)]
    )
    second = write_shard(
        tmp_path,
        "data/sft-train-00001.jsonl",
        [sft_record(f"s{i}") for i in range(9000)] + [sft_record("r8500")],
    )
    write_meta(tmp_path, [{"split": "train", "objective": "sft", "shards": [first, second]}])
    report = verify_package(tmp_path)
    d7 = only(report, "D7")
    assert (d7.file, d7.line) == ("data/sft-train-00001.jsonl", 9001)
    assert d7.message.endswith("data/sft-train-00000.jsonl line 8501")
    assert report.records_checked == 18_001


def test_odd_shard_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data" / "dir.jsonl").mkdir(parents=True)
    (tmp_path / "data" / "empty.jsonl.zst").write_bytes(b"")
    os.symlink(tmp_path / "data" / "loop", tmp_path / "data" / "loop")
    big = write_shard(tmp_path, "data/sft-train-00000.jsonl", [sft_record("a")])
    shards = [
        {"path": "data/dir.jsonl"},
        {"path": "data/empty.jsonl.zst", "compression": "zstd"},
        {"path": "data/loop"},
        {"path": big["path"]},
    ]
    write_meta(tmp_path, [{"split": "train", "objective": "sft", "shards": shards}])
    monkeypatch.setattr(shard_rules, "LARGE_SHARD_BYTES", 10)
    report = verify_package(tmp_path)
    assert [(f.rule, f.file) for f in report.findings] == [
        ("C13", "data/dir.jsonl"),
        ("C15", "data/empty.jsonl.zst"),
        ("C12", "data/loop"),
        ("C20", big["path"]),
    ]
    assert report.findings[0].message == "shard file is not a regular file"
    assert report.findings[1].message == "file is empty, which is not a zstd stream"
    assert "cannot be resolved" in report.findings[2].message
    assert report.findings[3].message.endswith("without sha256 and record_count")


def test_manifest_shapes(tmp_path: Path) -> None:
    write_meta(tmp_path, [], data_card={"sha256": 5})
    meta = orjson.loads((tmp_path / "metadata.json").read_bytes())
    del meta["dataset"], meta["files"]
    (tmp_path / "metadata.json").write_bytes(orjson.dumps(meta))
    assert rules(verify_package(tmp_path)) == {"A3", "A5", "A12"}
    inline_card = {"inline": True, "core": {"name": "card"}}
    shard = write_shard(tmp_path, "data/sft-train-00000.jsonl", [sft_record("a")])
    files = [{"split": "train", "objective": "sft", "shards": [shard]}]
    write_meta(tmp_path, files, data_card=inline_card)
    assert verify_package(tmp_path).findings == []


def test_unhashable_values_do_not_crash(tmp_path: Path) -> None:
    record = {
        "id": "a",
        "messages": [msg("document", {"type": ["image"], "ref": {"asset_id": "x"}})],
    }
    simple_package(tmp_path, [record], objective="cpt")
    meta = orjson.loads((tmp_path / "metadata.json").read_bytes())
    meta["asset_index"] = {"path": "assets.jsonl"}
    meta["files"][0]["split"] = ["train"]
    (tmp_path / "metadata.json").write_bytes(orjson.dumps(meta))
    (tmp_path / "assets.jsonl").write_bytes(encode([{"asset_id": "x", "uri": "s3://x"}]))
    report = verify_package(tmp_path, forbid_split_leakage=True)
    assert rules(report, "error") == {"C2", "D14"}


def test_verified_shards_are_checked_by_hash(tmp_path: Path) -> None:
    full_package(tmp_path, "zstd")
    meta = orjson.loads((tmp_path / "metadata.json").read_bytes())
    verified = {s["path"]: s["sha256"] for f in meta["files"] for s in f["shards"]}
    report = verify_package(tmp_path, verified_shards=verified)
    assert report.findings == []
    assert (report.shards_checked, report.shards_trusted, report.records_checked) == (4, 4, 5)

    # A shard rewritten after it was verified (still declaring its new digest) is read again.
    sft_path = meta["files"][0]["shards"][0]["path"]
    bad = write_shard(
        tmp_path, sft_path, [sft_record("s1", assistant=False), tool_record("s2")], "zstd"
    )
    meta["files"][0]["shards"][0] = bad
    (tmp_path / "metadata.json").write_bytes(orjson.dumps(meta))
    report = verify_package(tmp_path, verified_shards=verified)
    assert report.shards_trusted == 3
    assert (only(report, "F1").file, only(report, "F1").line) == (sft_path, 1)


def test_candidate_manifest_outside_the_package(tmp_path: Path) -> None:
    pkg = tmp_path / "package"
    simple_package(pkg, [sft_record("a")], "gzip")
    candidate = tmp_path / "work" / "metadata.json"
    candidate.parent.mkdir()
    (pkg / "metadata.json").rename(candidate)
    assert rules(verify_package(pkg)) == {"A1"}
    report = verify_package(pkg, manifest_path=candidate)
    assert report.findings == [] and report.records_checked == 1
