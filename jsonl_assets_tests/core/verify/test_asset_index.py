"""verify/asset_index.py: the asset index is plain JSONL (spec 8.1: a path and `format:
jsonl`, no compression field). A gzip or zstd file is a G2 error and is never decompressed,
so no `ref.asset_id` resolves through it."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
import zstandard

from jsonl_assets.core.verify.package import verify_package
from jsonl_assets.core.verify.verify_limits import VerifyLimits
from jsonl_assets_tests.test_package_verifier import encode, msg, simple_package

ASSETS = encode([{"asset_id": "leaf-1", "uri": "s3://b/leaf-1.png"}])
COMPRESSED = {
    "gzip": gzip.compress(ASSETS, mtime=0),
    "zstd": zstandard.ZstdCompressor().compress(ASSETS),
}


def _package(pkg: Path, index: bytes) -> None:
    record = {
        "id": "d1",
        "messages": [msg("document", {"type": "image", "ref": {"asset_id": "leaf-1"}})],
    }
    simple_package(pkg, [record], objective="cpt")
    meta = orjson.loads((pkg / "metadata.json").read_bytes())
    meta["asset_index"] = {"path": "assets.jsonl", "format": "jsonl"}
    (pkg / "metadata.json").write_bytes(orjson.dumps(meta))
    (pkg / "assets.jsonl").write_bytes(index)


def test_a_plain_asset_index_resolves_references(tmp_path: Path) -> None:
    _package(tmp_path, ASSETS)
    report = verify_package(tmp_path)
    assert report.ok, report.findings
    assert not [f for f in report.findings if f.rule[0] == "G" or f.rule == "D19"]


@pytest.mark.parametrize("codec", sorted(COMPRESSED))
def test_a_compressed_asset_index_is_g2_and_not_read(tmp_path: Path, codec: str) -> None:
    _package(tmp_path, COMPRESSED[codec])
    report = verify_package(tmp_path)
    assert not report.ok
    g = [(f.rule, f.severity, f.line) for f in report.findings if f.rule[0] == "G"]
    assert g == [("G2", "error", 1)], report.findings
    message = next(f.message for f in report.findings if f.rule == "G2")
    assert f"holds {codec}-compressed bytes" in message
    assert "plain JSONL" in message and "(D19)" in message


def test_verify_help_does_not_promise_an_expansion_check_of_the_asset_index(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--max-expansion` said "C15 (shard) or G1 (asset index)"; the index is never
    decompressed (a compressed one is G2, above)."""
    from jsonl_assets.cli import main

    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    expansion = text[text.index("--max-expansion RATIO a ") :][:300]
    assert "C15" in expansion and "G1" not in expansion, expansion
    assert "asset index is never decompressed" in expansion


def test_an_asset_referenced_only_by_defaults_system_is_used(tmp_path: Path) -> None:
    """Records inherit `defaults.system` (spec 2.4): an asset only it references is no G5."""
    record = {"id": "d1", "messages": [msg("document", {"type": "text", "text": "x"})]}
    simple_package(tmp_path, [record], objective="cpt")
    meta = orjson.loads((tmp_path / "metadata.json").read_bytes())
    meta["asset_index"] = {"path": "assets.jsonl", "format": "jsonl"}
    logo = {"type": "image", "ref": {"asset_id": "leaf-1"}}
    meta["defaults"] = {"system": [{"type": "text", "text": "Be brief."}, logo]}
    (tmp_path / "metadata.json").write_bytes(orjson.dumps(meta))
    (tmp_path / "assets.jsonl").write_bytes(
        ASSETS + encode([{"asset_id": "spare", "uri": "s3://b/spare.png"}])
    )
    report = verify_package(tmp_path)
    assert report.ok, report.findings
    g5 = [f.message for f in report.findings if f.rule == "G5"]
    assert g5 == ["asset 'spare' is never referenced"]


def _damage(pkg: Path, how: str) -> None:
    """Make the package's one shard unreadable in one way, or its records not all readable."""
    meta = orjson.loads((pkg / "metadata.json").read_bytes())
    shard = meta["files"][0]["shards"][0]
    path = pkg / shard["path"]
    if how == "missing":
        path.unlink()
    elif how == "folder":
        path.unlink()
        path.mkdir()
    elif how == "cut_gzip":  # a damaged stream: the records after the damage are not read
        shard.pop("sha256")
        data = gzip.compress(path.read_bytes() * 50, mtime=0)
        path.write_bytes(data[: len(data) // 2])
        shard["compression"] = "gzip"
    elif how == "unknown_compression":
        shard["compression"] = "lz4"
    elif how == "shards_not_a_list":
        meta["files"][0]["shards"] = "data/cpt-train-00000.jsonl"
    elif how in ("line_too_long", "line_not_json"):  # the referencing record is unread
        shard.pop("sha256")
        line = path.read_bytes()
        path.write_bytes(
            line[:-1] + b" " * 2000 + b"\n" if how == "line_too_long" else line[:-3] + b"\n"
        )
    (pkg / "metadata.json").write_bytes(orjson.dumps(meta))


@pytest.mark.parametrize(
    "how",
    [
        "missing",
        "folder",
        "cut_gzip",
        "unknown_compression",
        "shards_not_a_list",
        "line_too_long",
        "line_not_json",
    ],
)
def test_no_g5_when_a_shards_records_were_not_all_read(tmp_path: Path, how: str) -> None:
    # Before: a shard that could not be read still let G5 say the asset its records reference
    # is never referenced (as if its records had been read and held none).
    _package(tmp_path, ASSETS)
    _damage(tmp_path, how)
    report = verify_package(tmp_path, limits=VerifyLimits(max_line_bytes=1024))
    assert not report.ok
    assert not [f for f in report.findings if f.rule == "G5"], report.findings


def test_g5_still_names_an_asset_no_record_references(tmp_path: Path) -> None:
    _package(tmp_path, ASSETS + encode([{"asset_id": "leaf-2", "uri": "s3://b/leaf-2.png"}]))
    report = verify_package(tmp_path)
    g5 = [(f.file, f.line, f.message) for f in report.findings if f.rule == "G5"]
    assert g5 == [("assets.jsonl", 2, "asset 'leaf-2' is never referenced")]
