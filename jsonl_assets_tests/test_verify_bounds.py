"""`verify` stays bounded on shards of millions of tiny lines, reads each file once, and
agrees with the build's readers on repeated keys and numbers orjson changes.

Work is measured, not timed: how many findings `Sink.add` was asked to make, how many bytes
`ShardStream` read, which findings came out. A blank-lines bomb is checked against the
findings a line-by-line count gives.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jsonl_assets.core.verify import report as report_module
from jsonl_assets.core.verify import shard_stream, verify_limits
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets.core.verify.report import FINDINGS_PER_RULE_FILE, VerifyReport
from jsonl_assets.core.verify.verify_limits import VerifyLimits
from jsonl_assets_tests.test_package_verifier import cpt_record, sft_record, write_meta, write_shard
from jsonl_assets_tests.test_verify_hostile import RSS_BOUND_KB, assert_error, run_verify

MiB = 1 << 20
CAP_8MB = ("--max-expansion", "500", "--expansion-floor", "1MiB")  # 500 x 16 KB of gzip


def gzip_shard(pkg: Path, rel: str, head: bytes, filler: bytes, mib: int) -> dict[str, Any]:
    """A gzip shard: `head`, then `mib` MiB of `filler` repeated (written a MiB at a time)."""
    path = pkg / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    block = filler * (MiB // len(filler))
    with open(path, "wb") as raw, gzip.GzipFile(None, "wb", 9, raw, mtime=0) as out:
        out.write(head)
        for _ in range(mib):
            out.write(block)
    blob = path.read_bytes()
    return {"path": rel, "compression": "gzip", "sha256": hashlib.sha256(blob).hexdigest()}


def count_adds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the findings `Sink.add` is asked to make (each one is a message formatted)."""
    calls = [0]
    add = report_module.Sink.add

    def counted(self: report_module.Sink, *args: Any) -> None:
        calls[0] += 1
        add(self, *args)

    monkeypatch.setattr(report_module.Sink, "add", counted)
    return calls


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the bytes every `ShardStream` reads from disk."""
    total = [0]
    read = shard_stream.ShardStream.read

    def counted(self: shard_stream.ShardStream, n: int = -1) -> bytes:
        data = read(self, n)
        total[0] += len(data)
        return data

    monkeypatch.setattr(shard_stream.ShardStream, "read", counted)
    return total


def listed(report: VerifyReport, rule: str) -> list[int | None]:
    return [f.line for f in report.findings if f.rule == rule]


# --- A. lines bombs --------------------------------------------------------------------


def test_blank_lines_are_counted_in_bulk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """4 MiB of "\\n" after one record: the same D2 findings, counts and omissions as one
    finding per line gave, but only the listed ones are made (before: 4,194,304 calls)."""
    record = orjson.dumps(cpt_record("c1")) + b"\n"
    shard = gzip_shard(tmp_path, "data/x.jsonl.gz", record, b"\n", 4)
    write_meta(
        tmp_path,
        [{"split": "train", "objective": "cpt", "shards": [shard]}],
        asset_index={"path": "assets.jsonl"},
    )
    (tmp_path / "assets.jsonl").write_bytes(b'{"asset_id": "leaf-1", "uri": "u"}\n')
    adds = count_adds(monkeypatch)
    report = verify_package(tmp_path)
    blanks = 4 * MiB
    assert report.ok, report.findings
    assert report.warning_count == blanks
    assert report.records_checked == 1
    assert listed(report, "D2") == list(range(2, 2 + FINDINGS_PER_RULE_FILE))
    assert report.omitted == {("D2", shard["path"]): blanks - FINDINGS_PER_RULE_FILE}
    assert adds[0] < 100, adds[0]


def _total(report: VerifyReport, rule: str, path: str) -> int:
    return len(listed(report, rule)) + report.omitted.get((rule, path), 0)


@pytest.mark.parametrize(("seed", "record_weight"), [(1, 1), (2, 1), (3, 40)])
def test_short_lines_give_the_findings_of_a_line_by_line_reading(
    tmp_path: Path, seed: int, record_weight: int
) -> None:
    """Blocks of short lines (blank runs counted in bulk) and of long ones (record_weight
    40): D2 on exactly the blank lines, D1 on the lines that are not objects, right lines."""
    rng = random.Random(seed)
    kinds = [b"", b" ", b"\t \r", b"x", b"[1]", orjson.dumps(sft_record("a"))]
    lines = rng.choices(kinds, weights=[1, 1, 1, 1, 1, record_weight], k=3000)
    shard = write_shard(tmp_path, "data/sft-train-00000.jsonl", [])
    (tmp_path / shard["path"]).write_bytes(b"\n".join(lines) + b"\n")
    shard.pop("sha256")
    shard["record_count"] = sum(1 for line in lines if line.strip())
    write_meta(tmp_path, [{"split": "train", "objective": "sft", "shards": [shard]}])
    report = verify_package(tmp_path)
    blank = [i + 1 for i, line in enumerate(lines) if not line.strip()]
    bad = [i + 1 for i, line in enumerate(lines) if line in (b"x", b"[1]")]
    assert listed(report, "D2") == blank[:FINDINGS_PER_RULE_FILE]
    assert _total(report, "D2", shard["path"]) == len(blank)
    assert listed(report, "D1") == bad[:FINDINGS_PER_RULE_FILE]
    assert _total(report, "D1", shard["path"]) == len(bad)
    assert report.error_count == len(bad)
    assert report.records_checked == shard["record_count"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from([b"", b" ", b"\n", b"ab", b"\n\n", b"x" * 9, b"\t\n"]), max_size=30),
    st.integers(1, 12),
)
def test_blocks_hold_the_lines_of_the_stream(parts: list[bytes], max_line: int) -> None:
    """The lines of the whole stream, split at once; a line past `max_line` as its length."""

    def chunks() -> Iterator[bytes]:
        yield from parts

    lines = b"".join(parts).split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the newline ends the last line
    expected = [line if len(line) <= max_line else len(line) for line in lines]
    got: list[bytes | int] = []
    for block in verify_limits.bounded_blocks(chunks(), max_line):
        if isinstance(block, int):
            got.append(block)
        else:
            got.extend(block.split(b"\n"))
    assert got == expected


def test_records_are_no_longer_parsed_past_the_error_budget(tmp_path: Path) -> None:
    """300,000 invalid lines: 1,000 errors, then one error says checking stopped and what
    was not checked; the file is still read to its end (C17 holds, its size is reported)."""
    record = orjson.dumps(sft_record("a")) + b"\n"
    shard = gzip_shard(tmp_path, "data/x.jsonl.gz", record, b"x\n", 1)  # 524,288 lines
    shard["record_count"] = 7  # not compared once checking stopped
    write_meta(tmp_path, [{"split": "train", "objective": "sft", "shards": [shard]}])
    report = verify_package(tmp_path, limits=VerifyLimits(max_shard_errors=1000))
    stopped = [f for f in report.findings if "checking stopped" in f.message]
    assert len(stopped) == 1, report.findings
    assert stopped[0].rule == "D1" and stopped[0].line == 1002
    assert "record_count (C16)" in stopped[0].message and "C15 and C17" in stopped[0].message
    assert report.error_count == 1001
    assert report.records_checked == 1001
    assert {f.rule for f in report.findings} == {"D1"}  # no C16, C17 matched the whole file
    # A wrong digest is still found: the file was read to its end.
    shard["sha256"] = "0" * 64
    write_meta(tmp_path, [{"split": "train", "objective": "sft", "shards": [shard]}])
    report = verify_package(tmp_path, limits=VerifyLimits(max_shard_errors=1000))
    assert "C17" in {f.rule for f in report.findings}


def test_invalid_lines_bomb_with_default_limits(tmp_path: Path) -> None:
    """The CLI on 16 MiB of "x\\n" (16 KB of gzip) capped at about 8 MB (4 million D1 lines;
    before: every one parsed and counted): stops at the default 100,000 errors; the rest is
    still decompressed (C15 at the cap), bounded RSS."""
    record = orjson.dumps(cpt_record("c1")) + b"\n"
    shard = gzip_shard(tmp_path, "data/x.jsonl.gz", record, b"x\n", 16)
    write_meta(tmp_path, [{"split": "train", "objective": "cpt", "shards": [shard]}])
    run = run_verify(tmp_path, *CAP_8MB, timeout=120)
    line = assert_error(run, "D1", "checking stopped at line 100002")
    assert "--max-shard-errors 100000" in line
    assert_error(run, "C15", "decompresses to more than")
    assert run.peak_rss_kb < RSS_BOUND_KB
    run = run_verify(tmp_path, "--max-shard-errors", "10", *CAP_8MB)
    assert_error(run, "D1", "checking stopped at line 12")


# --- B. the asset index is capped like a shard -----------------------------------------


def test_asset_index_larger_than_max_shard_bytes_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shard = write_shard(tmp_path, "data/cpt-train-00000.jsonl", [cpt_record("c1")])
    with open(tmp_path / "assets.jsonl", "wb") as handle:
        handle.truncate(1 << 30)  # sparse: 1 GiB of NUL bytes read in full before
    write_meta(
        tmp_path,
        [{"split": "train", "objective": "cpt", "shards": [shard]}],
        asset_index={"path": "assets.jsonl"},
    )
    read = count_reads(monkeypatch)
    report = verify_package(tmp_path, limits=VerifyLimits(max_shard_bytes=MiB))
    g1 = [f for f in report.findings if f.rule == "G1"]
    assert len(g1) == 1 and "more than --max-shard-bytes (1048576): not read" in g1[0].message
    assert read[0] < MiB, read[0]


def asset_index_bomb(pkg: Path, filler: bytes, mib: int) -> None:
    """An asset index (plain JSONL: the spec gives it no compression) of one asset, then
    `mib` MiB of `filler`."""
    shard = write_shard(pkg, "data/cpt-train-00000.jsonl", [cpt_record("c1")])
    with open(pkg / "assets.jsonl", "wb") as out:
        out.write(b'{"asset_id": "leaf-1", "uri": "u"}\n')
        block = filler * (MiB // len(filler))
        for _ in range(mib):
            out.write(block)
    write_meta(
        pkg,
        [{"split": "train", "objective": "cpt", "shards": [shard]}],
        asset_index={"path": "assets.jsonl"},
    )


def test_asset_index_blank_lines_are_counted_in_bulk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """4 MiB of "\\n" in the asset index: 4,194,304 G2 warnings, fewer than 100 made."""
    asset_index_bomb(tmp_path, b"\n", 4)
    adds = count_adds(monkeypatch)
    report = verify_package(tmp_path)
    assert report.ok, report.findings
    assert report.warning_count == 4 * MiB
    assert listed(report, "G2") == list(range(2, 2 + FINDINGS_PER_RULE_FILE))
    assert adds[0] < 100, adds[0]


def test_asset_index_is_no_longer_parsed_past_the_error_budget(tmp_path: Path) -> None:
    asset_index_bomb(tmp_path, b"x\n", 1)
    report = verify_package(tmp_path, limits=VerifyLimits(max_shard_errors=500))
    stopped = [f for f in report.findings if "checking stopped" in f.message]
    assert [(f.rule, f.line) for f in stopped] == [("G2", 502)], report.findings
    assert "(D19) and unused assets (G5) were not checked" in stopped[0].message
    assert report.error_count == 501


# --- C. one file behind many entries is read once --------------------------------------


def test_links_to_one_shard_are_c18_and_it_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shard = write_shard(tmp_path, "data/cpt-train-00000.jsonl", [cpt_record("c1")] * 200)
    target = tmp_path / shard["path"]
    entries = [shard]
    for i in range(10):
        link = tmp_path / "data" / f"link-{i}.jsonl"
        if i % 2:
            os.link(target, link)  # a hard link: another name, the same inode
        else:
            link.symlink_to(target.name)
        entries.append({**shard, "path": f"data/link-{i}.jsonl"})
    write_meta(tmp_path, [{"split": "train", "objective": "cpt", "shards": entries}])
    read = count_reads(monkeypatch)
    report = verify_package(tmp_path)
    c18 = [f.message for f in report.findings if f.rule == "C18"]
    assert len(c18) == 10, report.findings
    assert all("is the same file as files[0].shards[0]" in m for m in c18)
    assert report.shards_checked == 1 and report.records_checked == 200
    assert read[0] == target.stat().st_size


# --- D, E. what the build's readers refuse, verify refuses -------------------------------


def test_repeated_keys_are_errors(tmp_path: Path) -> None:
    rec = orjson.dumps(cpt_record("c1"))
    twice = rec[:-1] + b',"messages":[{"role":"assistant","content":[]}]}'
    shard = write_shard(tmp_path, "data/cpt-train-00000.jsonl", [twice, rec])
    meta = (
        b'{"files":[{"split":"train","objective":"cpt","shards":[{"path":"../../etc/passwd"}]}],'
        b'"schema_version":"llm-training-data/v1","dataset":{"name":"t"},"files":'
        + orjson.dumps([{"split": "train", "objective": "cpt", "shards": [shard]}])
        + b"}"
    )
    (tmp_path / "metadata.json").write_bytes(meta)
    report = verify_package(tmp_path)
    a1 = [f for f in report.findings if f.rule == "A1"]
    assert len(a1) == 1 and "repeats the key 'files'" in a1[0].message
    d1 = [f for f in report.findings if f.rule == "D1"]
    assert [f.line for f in d1] == [1] and "repeats the key 'messages'" in d1[0].message


def test_numbers_orjson_changes_are_warnings_named_as_written(tmp_path: Path) -> None:
    """Valid JSON (the spec sets no limit on numbers): D1 / A1 warnings, the values checked
    as written (a big record_count is still compared with the records: C16)."""
    lines = [
        b'{"id":"c1","messages":[{"role":"document","content":[{"type":"json",'
        b'"data":{"x":123456789012345678901234567890}}]}]}',
        b'{"id":"c2","messages":[{"role":"document","content":[{"type":"image",'
        b'"ref":{"uri":"u"},"bytes":18446744073709551616}]}]}',
        b'{"id":"c3","messages":[{"role":"document","content":[{"type":"json",'
        b'"data":{"x":18446744073709551615, "y": 0.1}}]}]}',  # held exactly: no finding
    ]
    shard = write_shard(tmp_path, "data/cpt-train-00000.jsonl", lines)
    entry = orjson.dumps({"split": "train", "objective": "cpt", "shards": [shard]})
    (tmp_path / "metadata.json").write_bytes(
        b'{"schema_version":"llm-training-data/v1","dataset":{"name":"t"},"files":['
        + entry.replace(b'"record_count":3', b'"record_count":18446744073709551616')
        + b"]}"
    )
    report = verify_package(tmp_path)
    found = [(f.rule, f.line, f.message) for f in report.findings]
    d1 = [(n, m) for r, n, m in found if r == "D1"]
    assert [n for n, _ in d1] == [1, 2], found
    assert {f.severity for f in report.findings if f.rule in ("D1", "A1")} == {"warning"}
    assert d1[0][1].startswith(
        "messages[0].content[0].data.x: the number 123456789012345678901234567890 is an "
        "integer beyond 64 bits"
    )
    assert d1[1][1].startswith(
        "messages[0].content[0].bytes: the number 18446744073709551616 is an integer beyond"
    )
    assert not any("e+19" in m or "e+29" in m for _, _, m in found), found  # no D18
    assert any(
        r == "A1" and "record_count: the number 18446744073709551616" in m for r, _, m in found
    )
    assert any(r == "C16" and "record_count is 18446744073709551616" in m for r, _, m in found)


# --- F. a shard in a folder that cannot be searched ------------------------------------


def test_a_shard_that_cannot_be_reached_for_permissions_is_c13(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As an unprivileged user, `data/locked` mode 000 makes realpath fail with EACCES
    (root ignores the mode, so the error is injected): C13, not C12 "cannot be resolved"."""
    shard = write_shard(tmp_path, "data/locked/cpt-train-00000.jsonl", [cpt_record("c1")])
    write_meta(tmp_path, [{"split": "train", "objective": "cpt", "shards": [shard]}])
    realpath = os.path.realpath

    def denied(path: Any, *, strict: bool = False) -> str:
        if strict and "locked" in str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return realpath(path, strict=strict)

    monkeypatch.setattr(os.path, "realpath", denied)
    report = verify_package(tmp_path)
    found = [(f.rule, f.message) for f in report.findings]
    assert found == [("C13", "shard file cannot be opened: Permission denied")], found
