"""verify_limits.block_lines and the blank lines of shards and the asset index: only JSON
whitespace (space, tab, CR; RFC 8259) makes a line blank. Form feed and vertical tab, which
`bytes.isspace()` accepts, are not JSON: such a line is D1 (G2 in the asset index).
verify_limits.bounded_blocks: the CR of a CRLF line end does not count toward the line cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from jsonl_assets.core.verify.package import verify_package
from jsonl_assets.core.verify.verify_limits import (
    DENSE_LINE,
    VerifyLimits,
    block_lines,
    bounded_blocks,
)
from jsonl_assets_tests.test_package_verifier import cpt_record, write_meta, write_shard

NOT_JSON_SPACE = [b"\x0c", b"\x0b", b" \x0c\t", b"\r\x0b"]


def _lines(block: bytes) -> list[bytes | int]:
    return list(block_lines(block))


@pytest.mark.parametrize("junk", NOT_JSON_SPACE)
def test_form_feed_and_vertical_tab_lines_are_not_blank(junk: bytes) -> None:
    short = b"\n".join([b"", junk, b" \t\r", b"{}"])  # a block of short lines (runs by regex)
    assert _lines(short) == [1, junk, 1, b"{}"]
    long_line = b"x" * (DENSE_LINE * 8)  # a block of long lines (line by line)
    dense = b"\n".join([long_line, junk, b" \t\r", long_line])
    assert _lines(dense) == [long_line, junk, 1, long_line]


@pytest.mark.parametrize("junk", NOT_JSON_SPACE)
def test_a_form_feed_line_in_a_shard_is_d1_not_a_blank_line(tmp_path: Path, junk: bytes) -> None:
    shard = write_shard(tmp_path, "data/cpt-train-00000.jsonl", [cpt_record("c1")])
    path = tmp_path / shard["path"]
    path.write_bytes(path.read_bytes() + junk + b"\n \n")
    shard.pop("sha256")
    shard["record_count"] = 2
    write_meta(tmp_path, [{"split": "train", "objective": "cpt", "shards": [shard]}])
    report = verify_package(tmp_path)
    found = [f for f in report.findings if f.rule in ("D1", "D2")]
    assert [(f.rule, f.severity, f.line) for f in found] == [
        ("D1", "error", 2),
        ("D2", "warning", 3),
    ], report.findings
    assert "not valid JSON" in found[0].message


def test_a_form_feed_line_in_the_asset_index_is_g2_not_a_blank_line(tmp_path: Path) -> None:
    shard = write_shard(tmp_path, "data/cpt-train-00000.jsonl", [cpt_record("c1")])
    (tmp_path / "assets.jsonl").write_bytes(b'{"asset_id": "a", "uri": "u"}\n\x0c\n\n')
    write_meta(
        tmp_path,
        [{"split": "train", "objective": "cpt", "shards": [shard]}],
        asset_index={"path": "assets.jsonl", "format": "jsonl"},
    )
    report = verify_package(tmp_path)
    g2 = [(f.severity, f.line) for f in report.findings if f.rule == "G2"]
    assert g2 == [("error", 2), ("warning", 3)], report.findings


def _bounded(data: bytes, max_line: int, step: int) -> list[bytes | int]:
    """The lines `bounded_blocks` finds in `data` fed `step` bytes at a time, one per item."""
    chunks = (data[i : i + step] for i in range(0, len(data), step))
    out: list[bytes | int] = []
    for block in bounded_blocks(chunks, max_line):
        out.extend([block] if isinstance(block, int) else block.split(b"\n"))
    return out


@pytest.mark.parametrize("step", [1, 2, 3, 5, 7, 64])
def test_the_cr_of_a_crlf_line_end_does_not_count_toward_the_cap(step: int) -> None:
    # Before: a line of exactly the cap ending in CRLF was reported too long (its CR counted),
    # though the README says a line end never counts; a lone CR inside a line still counts.
    data = b"abcd\r\nabcde\r\nab\rcd\nabcd\rx\nabcd\r"
    assert _bounded(data, 4, step) == [b"abcd\r", 6, 5, 6, b"abcd\r"]


def test_a_crlf_shard_whose_lines_are_exactly_the_cap_is_valid(tmp_path: Path) -> None:
    shard = write_shard(
        tmp_path, "data/cpt-train-00000.jsonl", [cpt_record("c1"), cpt_record("c2")]
    )
    path = tmp_path / shard["path"]
    lines = path.read_bytes().split(b"\n")[:-1]
    path.write_bytes(b"".join(line + b"\r\n" for line in lines))
    shard.pop("sha256")
    shard.pop("bytes", None)
    cap = max(len(line) for line in lines)
    asset = b'{"asset_id": "leaf-1", "uri": "u"'
    asset += b" " * (cap - len(asset) - 1) + b"}"  # exactly the cap too (G2's reading)
    (tmp_path / "assets.jsonl").write_bytes(asset + b"\r\n")
    write_meta(
        tmp_path,
        [{"split": "train", "objective": "cpt", "shards": [shard]}],
        asset_index={"path": "assets.jsonl", "format": "jsonl"},
    )
    report = verify_package(tmp_path, limits=VerifyLimits(max_line_bytes=cap))
    assert not [f for f in report.findings if f.severity == "error"], report.findings
    report = verify_package(tmp_path, limits=VerifyLimits(max_line_bytes=cap - 1))
    assert {"D1", "G2"} <= {f.rule for f in report.findings}, report.findings
