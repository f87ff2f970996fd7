"""The validated stage's quarantine entries: what their `raw` holds (README "Quarantine"); the
toolsets and tool schemas its records are judged by, as verify judges them."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets.core.verify.package import verify_package
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


SFT = {"objective": "sft", "split": "train"}
SHOP = {
    "id": "shop",
    "tools": [
        {
            "name": "lookup_order",
            "input_schema": {
                "type": "object",
                "properties": {"order_no": {"type": "string"}},
                "required": ["order_no"],
            },
        }
    ],
}


def _call(name: str, arguments: dict[str, object], text: str = "q") -> dict[str, object]:
    """A native sft record calling tool `name` once, answered."""
    return {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": text}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_call", "name": name, "call_id": "c", "arguments": arguments}
                ],
            },
            {
                "role": "tool",
                "content": [{"type": "tool_result", "name": name, "call_id": "c", "result": {}}],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "a"}]},
        ]
    }


def _validated_entries(tmp_path: Path) -> list[dict[str, object]]:
    return [
        orjson.loads(line)
        for path in sorted((tmp_path / "quarantine").rglob("validated.jsonl"))
        for line in path.read_bytes().splitlines()
    ]


@pytest.mark.parametrize("policy", ["quarantine", "warn"])
def test_the_build_judges_e9_against_the_tools_input_schemas_as_verify_does(
    tmp_path: Path, policy: str
) -> None:
    """E9 (a call's arguments against its tool's input_schema) is a spec warning the build
    judges by the config's toolsets, as verify does by metadata.json's: quarantined under
    `spec_warnings: quarantine`, counted under `warn` (it was never evaluated)."""
    (tmp_path / "raw").mkdir()
    records = [
        _call("lookup_order", {"order_no": 5}),
        _call("lookup_order", {}, "q2"),
        _call("lookup_order", {"order_no": "A1"}, "q3"),
    ]
    (tmp_path / "raw" / "s.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "e9", "description": "e9"},
            "thresholds": {"max_invalid_rate": 1.0},
            "quality": {"spec_warnings": policy},
            "toolsets": [SHOP],
            "defaults": {"toolset_id": "shop"},
            "sources": [{"name": "s", "paths": ["raw/s.jsonl"], "adapter": "native", **SFT}],
        },
    )
    cfg = load_config(config)
    result = build_partition(cfg, "sft|train")
    assert publish(cfg).manifest.published  # type: ignore[union-attr]
    report = verify_package(tmp_path / "package")
    validated = result.stages[2].details
    if policy == "quarantine":
        reasons = [e["reason"] for e in _validated_entries(tmp_path)]
        assert reasons == ["quality:spec_warning:E9"] * 2
        assert report.warning_count == 0 and report.records_checked == 1
    else:
        assert validated.spec_warnings == {"E9": 2}
        assert report.warning_count == 2 and report.records_checked == 3


# The chat record deriving toolset tools-bd4483d038ea = {only_here}.
DERIVING = {
    "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
    "tools": [{"type": "function", "function": {"name": "only_here"}}],
}


@pytest.mark.parametrize("chunked", [False, True])
def test_a_call_through_a_default_toolset_derived_later_is_judged_against_it(
    tmp_path: Path, chunked: bool
) -> None:
    """`defaults.toolset_id` names the toolset a chat source derives from its records' tools;
    native records relying on it, read before the toolset is derived (their source listed
    first, or in earlier chunks), are judged against it as records read after: a call to a
    tool it lacks is `schema:E2` (it was written unchecked, and verify failed the package)."""
    (tmp_path / "raw").mkdir()
    count = 60 if chunked else 1
    natives = [_call("not_in_it", {}, f"q{i}") for i in range(count)]
    natives.append(_call("only_here", {}, "fine"))
    (tmp_path / "raw" / "native.jsonl").write_bytes(
        b"".join(orjson.dumps(r) + b"\n" for r in natives)
    )
    (tmp_path / "raw" / "chat.jsonl").write_bytes(orjson.dumps(DERIVING) + b"\n")
    output = {"chunk_bytes": 4096} if chunked else {}
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "order", "description": "order"},
            "output": output,
            "thresholds": {"max_invalid_rate": 1.0},
            "defaults": {"toolset_id": "tools-bd4483d038ea"},
            "sources": [
                {"name": "n", "paths": ["raw/native.jsonl"], "adapter": "native", **SFT},
                {"name": "s", "paths": ["raw/chat.jsonl"], "adapter": "chat", **SFT},
            ],
        },
    )
    cfg = load_config(config)
    build_partition(cfg, "sft|train")
    assert publish(cfg).manifest.published  # type: ignore[union-attr]
    reasons = [e["reason"] for e in _validated_entries(tmp_path)]
    assert reasons == ["schema:E2"] * count
    report = verify_package(tmp_path / "package")
    assert report.error_count == 0 and report.records_checked == 2
