"""The extracted stage knows a source file by its identity: a file rewritten with the same
size and its mtime set back (`cp -p`, `rsync -t`, a restore) is a new file, and is read
again, never served from the previous build's chunks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import orjson

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets_tests.conftest import read_shard, write_config


def _rows(tag: str) -> bytes:
    rows = [{"instruction": f"q{i} {tag}", "output": f"a{i}"} for i in range(3)]
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def _instructions(config: Path) -> list[str]:
    cfg = load_config(config)
    build_partition(cfg, "sft|train")
    publish(cfg)
    package = config.parent / "package"
    meta = orjson.loads((package / "metadata.json").read_bytes())
    listed = [package / s["path"] for entry in meta["files"] for s in entry["shards"]]
    records = [r for p in listed for r in read_shard(p)]
    return sorted(r["messages"][0]["content"][0]["text"] for r in records)


def test_a_same_size_rewrite_with_its_mtime_set_back_is_read_again(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    path = raw / "a.jsonl"
    path.write_bytes(_rows("old"))
    source = {"objective": "sft", "adapter": "alpaca", "split": "train", "license": "MIT"}
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "identity"},
            "sources": [{"name": "a", "paths": ["raw/a.jsonl"], **source}],
        },
    )
    assert _instructions(config) == ["q0 old", "q1 old", "q2 old"]
    before = os.stat(path)
    with open(path, "r+b") as fh:  # in place: same inode, same size
        fh.write(_rows("new"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    assert _instructions(config) == ["q0 new", "q1 new", "q2 new"]


def _escaped_sources(tmp_path: Path, description: str, split: str, texts: str) -> Path:
    """A config of two `unicode_escape` sources under `raw/`: `s`, raw/a.csv with its `id`
    column as `id_field`, and `t`, the text files `texts` in document mode (cpt, text)."""
    options = {"objective": "cpt", "adapter": "text", "split": split}
    return write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": description},
            "thresholds": {"max_parse_failure_rate": 1},
            "sources": [
                {
                    "name": "s",
                    "paths": ["raw/a.csv"],
                    "id_field": "id",
                    "read_options": {"encoding": "unicode_escape"},
                    **options,
                },
                {
                    "name": "t",
                    "paths": [texts],
                    "read_options": {"encoding": "unicode_escape", "mode": "document"},
                    **options,
                },
            ],
        },
    )


def _published(root: Path) -> tuple[list[dict], list[dict]]:
    """The records of the package under `root` (its metadata.json's shards) and every
    quarantine entry under `root/quarantine`."""
    package = root / "package"
    meta = orjson.loads((package / "metadata.json").read_bytes())
    listed = [package / s["path"] for entry in meta["files"] for s in entry["shards"]]
    quarantined = [
        orjson.loads(line)
        for path in sorted((root / "quarantine").rglob("*.jsonl"))
        for line in path.read_bytes().splitlines()
    ]
    return [r for p in listed for r in read_shard(p)], quarantined


def test_a_value_decoded_to_a_lone_surrogate_rejects_its_row_only(tmp_path: Path) -> None:
    """A codec that decodes `\\ud800` to a lone surrogate (unicode_escape): the CSV row or
    text chunk holding one cannot be written as JSON. It is `unsupported_value` naming its
    position and field, its raw rendered, and the other records are written (the partitions
    used to fail with a bare TypeError)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.csv").write_text("id,text\nok1,hello\n\\ud800x,bad one\nok2,world\n")
    (raw / "b.txt").write_text("good")
    (raw / "c.txt").write_text("bad \\ud83d text")
    (raw / "d.txt").write_text("fine")
    config = _escaped_sources(tmp_path, "lone surrogates", "auto", "raw/*.txt")
    cfg = load_config(config)
    for split in ("train", "validation", "test"):
        build_partition(cfg, f"cpt|{split}")
    assert publish(cfg).manifest is not None
    records, quarantined = _published(tmp_path)
    texts = sorted(r["messages"][0]["content"][0]["text"] for r in records)
    assert texts == ["fine", "good", "hello", "world"]
    by_file = {q["trace"]["file"]: q for q in quarantined}
    assert sorted(by_file) == ["raw/a.csv", "raw/c.txt"], quarantined
    csv_row = by_file["raw/a.csv"]
    assert csv_row["reason"] == "unsupported_value" and csv_row["trace"]["row"] == 2
    assert "row 2: field 'id' holds a lone surrogate U+D800" in csv_row["detail"]
    assert orjson.loads(csv_row["raw"].replace("\\ud800", "?")) == {"id": "?x", "text": "bad one"}
    chunk = by_file["raw/c.txt"]
    assert chunk["reason"] == "unsupported_value" and "U+D83D" in chunk["detail"], chunk


def test_a_surrogate_pair_a_codec_decoded_as_two_code_points_is_joined(tmp_path: Path) -> None:
    """unicode_escape decodes `\\ud83d\\ude00` (U+1F600) to two surrogates: the pair is one
    character, written as a JSON decoder reads the same escapes; only a surrogate no pair holds
    is lone (a low half first, a high half alone), named by the detail and escaped in the raw."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.csv").write_text(
        "id,text\n"
        "1,\\ud83d\\ude00 pair\n"  # U+1F600
        "2,\\ud83d\\udc0d snake\n"  # U+1F40D: a low half in U+DC00-U+DCFF
        "\\ud83d\\ude00k,key\n"  # in the id too
        "4,\\ude00\\ud83d reversed\n"  # a low half then a high one: two lone surrogates
        "5,\\ud83d\\ude00\\ud83d then lone\n"
    )
    (raw / "b.txt").write_text("doc \\ud83d\\ude00 text")
    config = _escaped_sources(tmp_path, "surrogate pairs", "train", "raw/b.txt")
    cfg = load_config(config)
    build_partition(cfg, "cpt|train")
    assert publish(cfg).manifest is not None
    records, quarantined = _published(tmp_path)
    texts = sorted(r["messages"][0]["content"][0]["text"] for r in records)
    assert texts == ["doc \U0001f600 text", "key", "\U0001f40d snake", "\U0001f600 pair"]
    by_row = {q["trace"]["row"]: q for q in quarantined}
    assert sorted(by_row) == [4, 5], quarantined
    assert "field 'text' holds a lone surrogate U+DE00" in by_row[4]["detail"]
    assert "field 'text' holds a lone surrogate U+D83D" in by_row[5]["detail"]
    # the raw names what the detail says: the lone half escaped, the pair joined
    assert json.loads(by_row[5]["raw"]) == {"id": "5", "text": "\U0001f600\ud83d then lone"}
