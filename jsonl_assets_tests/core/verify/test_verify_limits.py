"""verify_limits.block_lines and the blank lines of shards and the asset index: only JSON
whitespace (space, tab, CR; RFC 8259) makes a line blank. Form feed and vertical tab, which
`bytes.isspace()` accepts, are not JSON: such a line is D1 (G2 in the asset index)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jsonl_assets.core.verify.package import verify_package
from jsonl_assets.core.verify.verify_limits import DENSE_LINE, block_lines
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
