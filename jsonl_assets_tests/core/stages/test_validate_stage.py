"""The validated stage's quarantine entries: what their `raw` holds (README "Quarantine")."""

from __future__ import annotations

from pathlib import Path

import orjson

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets_tests.conftest import write_config

LINES = [
    b'{"id": "ok", "messages": [{"role": "user", "content": "q"}], "reference": {"answer": "a"}}',
    b'{"id": "noref", "messages": [{"role": "user", "content": "caf\\u00e9 q"}]}',
    b'{"id": "blank", "messages": [{"role": "user", "content": "  "}], "reference": {"answer": "a"}}',
    b'{"id": "ok", "messages": [{"role": "user", "content": "b"}], "reference": {"answer": "b"}}',
]


def test_a_validated_reject_keeps_the_spec_record_made_with_a_trace_to_its_input(
    tmp_path: Path,
) -> None:
    """schema:, quality: and duplicate_id entries keep, as `raw`, the spec record the adapter
    made (its prefixed id, content as parts, escapes decoded, its metadata and trace), not
    the input line; the trace names the input's file, line and
    sha256, where the input is."""
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    (raw_dir / "r.jsonl").write_bytes(b"\n".join(LINES) + b"\n")
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "validated raw"},
            "thresholds": {
                "max_parse_failure_rate": 1.0,
                "max_adapter_reject_rate": 1.0,
                "max_duplicate_id_rate": 1.0,
                "max_invalid_rate": 1.0,
            },
            "sources": [
                {
                    "name": "s",
                    "paths": ["raw/r.jsonl"],
                    "objective": "rft",
                    "adapter": "native",
                    "split": "train",
                    "id_field": "id",
                }
            ],
        },
    )
    cfg = load_config(config)
    build_partition(cfg, "rft|train")
    publish(cfg)
    entries = [
        orjson.loads(line)
        for path in sorted((tmp_path / "quarantine").rglob("validated.jsonl"))
        for line in path.read_bytes().splitlines()
    ]
    got = {e["trace"]["line"]: e for e in entries}
    assert {n: e["reason"].split(":")[0] for n, e in got.items()} == {
        2: "schema",
        3: "quality",
        4: "duplicate_id",
    }
    for line_no, entry in got.items():
        record = orjson.loads(entry["raw"])
        assert entry["raw"].encode() != LINES[line_no - 1]  # not the input's bytes
        assert record["id"] == "s:" + orjson.loads(LINES[line_no - 1])["id"]
        assert record["metadata"]["trace"] == entry["trace"]
        assert entry["trace"]["file"] == "raw/r.jsonl" and len(entry["trace"]["sha256"]) == 64
        assert entry["raw"].encode() == orjson.dumps(record)  # the line as written
    noref = orjson.loads(got[2]["raw"])
    assert noref["messages"] == [{"role": "user", "content": [{"type": "text", "text": "café q"}]}]


def test_a_duplicate_id_detail_shows_the_id_cut_at_80_characters(tmp_path: Path) -> None:
    """The `duplicate_id` detail cuts a long id at 80 characters (a 20,000-character id made a
    20,051-character detail); a short id is shown as before, in Python's quoting."""
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    long_id = "x" * 20_000 + "'\"é"
    rows = [{"id": i, "messages": [{"role": "document", "content": f"t{n}"}]}
            for n, i in enumerate([long_id, long_id, "it's", "it's", "ok"])]  # fmt: skip
    (raw_dir / "r.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    source = {"name": "s", "paths": ["raw/r.jsonl"], "objective": "cpt", "adapter": "native",
              "split": "train", "id_field": "id"}  # fmt: skip
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "duplicate ids"},
            "thresholds": {"max_duplicate_id_rate": 1.0},
            "sources": [source],
        },
    )
    cfg = load_config(config)
    build_partition(cfg, "cpt|train")
    publish(cfg)
    details = [
        orjson.loads(line)["detail"]
        for path in sorted((tmp_path / "quarantine").rglob("validated.jsonl"))
        for line in path.read_bytes().splitlines()
    ]
    assert details == [
        f"id {('s:' + long_id)[:80]!r}... (20005 characters) was already written from "
        "raw/r.jsonl line 1",
        'id "s:it\'s" was already written from raw/r.jsonl line 3',
    ]
    assert len(details[0]) < 160 and details[0].startswith("id 's:xxx")
