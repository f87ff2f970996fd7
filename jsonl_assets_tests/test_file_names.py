"""A source file whose name is not valid UTF-8: the build goes on, and every output that names
the file (record traces, quarantine entries, the extracted report, metadata.json) keeps the
name losslessly: `file` shows it with each invalid byte escaped as `\\xNN`, and `file_b64`
holds the base64 of the name's raw bytes. Valid names are written exactly as before."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import orjson

from jsonl_assets.core.build import dirs_for
from jsonl_assets.core.chunks.plan import plan_chunks, recorded_chunk_plan
from jsonl_assets.core.config import load_config
from jsonl_assets_tests.values_helpers import (
    build,
    doc_line,
    make_cpt_project,
    quarantined,
    shard_records,
)


def test_a_non_utf8_file_name_is_kept_losslessly_in_every_output(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    bad_name = b"notes_\xff\xfe.jsonl"
    body = b"\n".join([doc_line(1), b"{not json", doc_line(2)]) + b"\n"
    (raw / os.fsdecode(bad_name)).write_bytes(body)
    (raw / "plain.jsonl").write_bytes(doc_line(3) + b"\n")
    config = make_cpt_project(tmp_path, ["raw/*.jsonl"])

    done = build(config)
    assert done.returncode == 0, done.stdout + done.stderr

    shown = "raw/notes_\\xff\\xfe.jsonl"
    b64 = base64.b64encode(b"raw/" + bad_name).decode()
    traces = {r["metadata"]["n"]: r["metadata"]["trace"] for r in shard_records(config)}
    assert traces[1] == {
        "source": "notes",
        "file": shown,
        "line": 1,
        "sha256": traces[1]["sha256"],
        "file_b64": b64,
    }
    assert traces[3]["file"] == "raw/plain.jsonl" and "file_b64" not in traces[3]
    assert base64.b64decode(traces[2]["file_b64"]) == b"raw/" + bad_name

    [entry] = quarantined(config)
    assert entry["reason"] == "parse_error"
    assert entry["trace"]["file"] == shown and entry["trace"]["file_b64"] == b64

    meta = orjson.loads((tmp_path / "package" / "metadata.json").read_bytes())
    files = {f["file"]: f for f in meta["extensions"]["x-jsonl-assets"]["source_files"]}
    assert files[shown]["file_b64"] == b64 and "file_b64" not in files["raw/plain.jsonl"]

    # The chunk plan records the file by its raw bytes, and reads it back the same.
    cfg = load_config(config)
    dirs = dirs_for(cfg, "cpt|train")
    plan = plan_chunks(cfg, dirs)
    assert recorded_chunk_plan(dirs, plan.fingerprint) == plan
    assert os.fsencode(plan.input(cfg, 0)[1].path).endswith(b"raw/" + bad_name)
