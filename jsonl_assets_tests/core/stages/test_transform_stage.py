"""The transformed stage's record metadata: a source's `metadata_fields` copy raw fields into
each record's metadata, beside what the config and the build add."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import zstandard

from jsonl_assets.core.adapters import ADAPTERS
from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets.core.record_ids import split_for_id
from jsonl_assets_tests.conftest import package_shards, read_shard, write_config


def _project(root: Path, metadata_fields: list[str] | None) -> Path:
    raw = root / "raw"
    raw.mkdir(parents=True)
    rows = [
        {"instruction": "q1", "output": "a1", "category": "open_qa", "score": {"n": 1.5}},
        {"instruction": "q2", "output": "a2"},  # no category: nothing is added
        {"instruction": "q3", "output": "a3", "category": None},  # null is a value
        {  # one record per instance: each gets the fields
            "instruction": "q4",
            "category": "seed",
            "instances": [{"input": "", "output": "x"}, {"input": "", "output": "y"}],
        },
    ]
    (raw / "a.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    (raw / "b.csv").write_text("instruction,output,category\nq5,a5,brainstorm\n")
    source = {"objective": "sft", "adapter": "alpaca", "split": "train", "license": "MIT"}
    if metadata_fields is not None:
        source["metadata_fields"] = metadata_fields
    return write_config(
        root / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "metadata fields"},
            "sources": [
                {"name": "a", "paths": ["raw/a.jsonl"], **source},
                {"name": "b", "paths": ["raw/b.csv"], **source},
            ],
        },
    )


def _metadata(config: Path) -> list[dict]:
    cfg = load_config(config)
    build_partition(cfg, "sft|train")
    publish(cfg)
    records = [r for path in package_shards(config.parent / "package") for r in read_shard(path)]
    out = []
    for r in records:
        meta = dict(r["metadata"])
        meta["line"] = meta.pop("trace").get("line") or "row"
        out.append(meta)
    return sorted(out, key=lambda m: (str(m["line"]), str(m.get("category"))))


def test_metadata_fields_copy_raw_fields_into_each_records_metadata(tmp_path: Path) -> None:
    kept = _metadata(_project(tmp_path / "kept", ["category", "score"]))
    assert kept == [
        {"category": "open_qa", "score": {"n": 1.5}, "license": "MIT", "line": 1},
        {"license": "MIT", "line": 2},
        {"category": None, "license": "MIT", "line": 3},
        {"category": "seed", "license": "MIT", "line": 4},
        {"category": "seed", "license": "MIT", "line": 4},
        {"category": "brainstorm", "license": "MIT", "line": "row"},
    ]
    plain = _metadata(_project(tmp_path / "plain", None))
    assert [m for m in plain if set(m) != {"license", "line"}] == []


def test_a_records_own_metadata_is_kept_and_its_trace_becomes_upstream(tmp_path: Path) -> None:
    """The source's license, content_type and metadata fill in only what a record does not
    say; a record's own trace (a package built before, re-read) stays as `trace.upstream`."""
    raw = tmp_path / "raw"
    raw.mkdir()

    def doc(n: int) -> list[dict[str, str]]:
        return [{"role": "user", "content": f"text {n}"}, {"role": "assistant", "content": "a"}]

    rows = [
        {"messages": doc(1), "metadata": {"trace": {"origin": "u-42"}, "license": "MIT", "k": 1}},
        {"messages": doc(2), "metadata": {"batch": "own", "content_type": "prose"}},
        {"messages": doc(3), "team": "own", "metadata": {"team": "own"}},  # equal: fine
        {"messages": doc(4), "team": "top"},
    ]
    (raw / "a.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    source = {"name": "a", "paths": ["raw/a.jsonl"], "objective": "sft", "adapter": "chat"}
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "own metadata"},
            "sources": [
                {
                    **source,
                    "split": "train",
                    "license": "CC0-1.0",
                    "content_type": "notes",
                    "metadata": {"batch": "config"},
                    "metadata_fields": ["team"],
                }
            ],
        },
    )
    cfg = load_config(config)
    build_partition(cfg, "sft|train")
    publish(cfg)
    records = [r for path in package_shards(tmp_path / "package") for r in read_shard(path)]
    meta = {int(r["messages"][0]["content"][0]["text"][5:]): r["metadata"] for r in records}
    assert [list(m) for m in (meta[1], meta[2])] == [
        ["trace", "license", "k", "batch", "content_type"],
        ["batch", "content_type", "license", "trace"],
    ]
    assert meta[1]["trace"]["upstream"] == {"origin": "u-42"}
    assert meta[1]["trace"]["line"] == 1 and meta[1]["license"] == "MIT"
    assert (meta[1]["batch"], meta[1]["content_type"]) == ("config", "notes")
    assert (meta[2]["batch"], meta[2]["content_type"], meta[2]["license"]) == (
        "own",
        "prose",
        "CC0-1.0",
    )
    assert meta[3]["team"] == "own" and meta[4]["team"] == "top"
    assert list(meta[3]).count("team") == 1
    assert "upstream" not in meta[2]["trace"]


def test_a_record_longer_than_max_record_bytes_as_written_is_too_large(tmp_path: Path) -> None:
    """A CSV field of control characters is 6x longer as JSON: the line is capped as
    written, so no shard line passes `limits.max_record_bytes` (verify's line cap)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    rows = [("q1", "a1"), ("q2", "\x01" * 1500), ("q3", "a3")]
    (raw / "a.csv").write_bytes(
        b"instruction,output\n" + b"".join(f"{q},{a}\n".encode() for q, a in rows)
    )
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "lines capped as written"},
            "limits": {"max_record_bytes": 2048},
            "thresholds": {"max_parse_failure_rate": 0.5},
            "sources": [
                {
                    "name": "a",
                    "paths": ["raw/a.csv"],
                    "objective": "sft",
                    "adapter": "alpaca",
                    "split": "train",
                }
            ],
        },
    )
    cfg = load_config(config)
    build_partition(cfg, "sft|train")
    publish(cfg)
    lines = [
        line
        for path in package_shards(tmp_path / "package")
        for line in zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read().splitlines()
    ]
    assert len(lines) == 2 and max(len(line) for line in lines) <= 2048
    quarantined = [
        orjson.loads(line)
        for path in (tmp_path / "quarantine").rglob("*.jsonl")
        for line in path.read_bytes().splitlines()
    ]
    assert [(q["reason"], q["trace"]["row"]) for q in quarantined] == [("too_large", 2)]
    assert (
        "as written" in quarantined[0]["detail"] and "max_record_bytes" in quarantined[0]["detail"]
    )
    assert orjson.loads(quarantined[0]["raw"]) == {"instruction": "q2", "output": "\x01" * 1500}


def _written_lines(root: Path, limit: int) -> tuple[list[bytes], list[dict]]:
    """The shard lines (without newline) and quarantine of a one-record build in `root`."""
    raw = root / "raw"
    raw.mkdir(parents=True)
    (raw / "a.jsonl").write_bytes(b'{"text": "' + b"w" * 1500 + b'"}\n')
    config = write_config(
        root / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "the newline is no record byte"},
            "limits": {"max_record_bytes": limit},
            "thresholds": {
                "max_parse_failure_rate": 1.0,
                "max_adapter_reject_rate": 1.0,
                "max_invalid_rate": 1.0,
            },
            "sources": [
                {
                    "name": "a",
                    "paths": ["raw/a.jsonl"],
                    "objective": "cpt",
                    "adapter": "text",
                    "split": "train",
                }
            ],
        },
    )
    cfg = load_config(config)
    build_partition(cfg, "cpt|train")
    publish(cfg)
    lines = [
        line
        for path in package_shards(root / "package")
        for line in zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read().splitlines()
    ]
    return lines, _quarantined(root)


def test_a_record_exactly_max_record_bytes_as_written_is_written(tmp_path: Path) -> None:
    """The written line's newline does not count toward `max_record_bytes`, as `verify`'s
    line cap does not count it: a record of exactly the limit is written, one byte less of
    limit makes it too_large, naming its size without the newline."""
    (line,), _ = _written_lines(tmp_path / "measure", 16 << 20)
    size = len(line)
    assert _written_lines(tmp_path / "exact", size) == ([line], [])
    lines, quarantined = _written_lines(tmp_path / "under", size - 1)
    assert lines == [] and [q["reason"] for q in quarantined] == ["too_large"]
    assert f"the record is {size} bytes as written" in quarantined[0]["detail"]


def _quarantined(root: Path) -> list[dict]:
    return [
        orjson.loads(line)
        for path in sorted((root / "quarantine").rglob("*.jsonl"))
        for line in path.read_bytes().splitlines()
    ]


def test_a_metadata_field_the_records_metadata_contradicts_is_quarantined(
    tmp_path: Path,
) -> None:
    """Neither value is dropped: the input is quarantined, naming the field."""
    raw = tmp_path / "raw"
    raw.mkdir()
    msgs = [{"role": "user", "content": "u"}, {"role": "assistant", "content": "v"}]
    rows = [
        {"messages": msgs, "metadata": {"category": "from-metadata"}, "category": "top-level"},
        {"messages": [*msgs[:1], {"role": "assistant", "content": "w"}], "category": "x"},
        {
            "messages": [*msgs[:1], {"role": "assistant", "content": "z"}],
            "category": 1,
            "metadata": {"category": 1.0},
        },  # 1 and 1.0 are different JSON values
    ]
    (raw / "a.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "metadata field conflict"},
            "thresholds": {"max_adapter_reject_rate": 0.9},
            "sources": [
                {
                    "name": "a",
                    "paths": ["raw/a.jsonl"],
                    "objective": "sft",
                    "adapter": "chat",
                    "split": "train",
                    "metadata_fields": ["category"],
                }
            ],
        },
    )
    cfg = load_config(config)
    build_partition(cfg, "sft|train")
    publish(cfg)
    records = [r for path in package_shards(tmp_path / "package") for r in read_shard(path)]
    assert [r["metadata"]["category"] for r in records] == ["x"]
    quarantined = _quarantined(tmp_path)
    assert [(q["reason"], q["trace"]["line"]) for q in quarantined] == [
        ("adapter:metadata_conflict", 1),
        ("adapter:metadata_conflict", 3),
    ]
    assert '"category"' in quarantined[0]["detail"]


def test_the_records_made_from_one_input_share_one_split(tmp_path: Path) -> None:
    """With `id_field` an alpaca task's instances land in the split of its first instance:
    no task straddles splits. Without it each record's content id decides its split (below)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    tasks = [
        {
            "id": f"task{t}",
            "instruction": f"TASK-{t}",
            "instances": [{"input": f"{t}-{k}", "output": f"out {t} {k}"} for k in range(6)],
        }
        for t in range(30)
    ]
    (raw / "a.jsonl").write_bytes(b"".join(orjson.dumps(t) + b"\n" for t in tasks))
    source = {"paths": ["raw/a.jsonl"], "objective": "sft", "adapter": "alpaca", "split": "auto"}
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "one split per input"},
            "splits": {"validation": 0.3, "test": 0.3},
            "sources": [{"name": "a", **source, "id_field": "id"}],
        },
    )
    cfg = load_config(config)
    for split in ("train", "validation", "test"):
        build_partition(cfg, f"sft|{split}")
    publish(cfg)
    splits: dict[tuple[str, str], set[str]] = {}
    for path in package_shards(tmp_path / "package"):
        split = path.parent.name.split("-")[1]
        for r in read_shard(path):
            task = r["messages"][0]["content"][0]["text"].split("\n")[0]
            splits.setdefault((r["metadata"]["trace"]["source"], task), set()).add(split)
    assert len(splits) == 30 and all(len(s) == 1 for s in splits.values()), splits
    # the split of the first instance's id: a task with one instance keeps its split
    for t in range(30):
        assert splits[("a", f"TASK-{t}")] == {split_for_id(f"a:task{t}#1", 0.3, 0.3)}
    assert len({next(iter(s)) for s in splits.values()}) == 3  # the test spans the splits


def test_an_instance_id_never_equals_a_plain_records_own_id(tmp_path: Path) -> None:
    """Alpaca with `id_field`: the instances of task `t` are `s:t#1`, `s:t#2`; a plain record
    whose own id is `t#1` or `t#2` is another record, with another id (`s:t##1`): nothing is
    quarantined as a duplicate_id, no id is in two splits, every record is written."""
    raw = tmp_path / "raw"
    raw.mkdir()
    # a task whose instance 2 hashes to another split than its first (the task's split)
    t = next(
        f"task{i}"
        for i in range(1000)
        if split_for_id(f"s:task{i}#1", 0.3, 0.3) != split_for_id(f"s:task{i}#2", 0.3, 0.3)
    )
    rows = [
        {
            "id": t,
            "instruction": "Translate to French",
            "instances": [{"input": "cat", "output": "chat"}, {"input": "dog", "output": "chien"}],
        },
        {"id": f"{t}#1", "instruction": "What is 2+2?", "output": "4"},
        {"id": f"{t}#2", "instruction": "What is 3+3?", "output": "6"},
    ]
    (raw / "a.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    source = {"paths": ["raw/a.jsonl"], "objective": "sft", "adapter": "alpaca", "split": "auto"}
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "injective ids"},
            "splits": {"validation": 0.3, "test": 0.3},
            "thresholds": {"max_duplicate_id_rate": 1.0},
            "sources": [{"name": "s", **source, "id_field": "id"}],
        },
    )
    cfg = load_config(config)
    for split in ("train", "validation", "test"):
        build_partition(cfg, f"sft|{split}")
    published = publish(cfg)
    assert published.manifest is not None, published.problems
    assert _quarantined(tmp_path) == []
    records = [r for path in package_shards(tmp_path / "package") for r in read_shard(path)]
    assert sorted(r["id"] for r in records) == sorted(
        [f"s:{t}#1", f"s:{t}#2", f"s:{t}##1", f"s:{t}##2"]
    )


def test_a_record_with_a_content_id_lands_in_one_split_whichever_input_made_it(
    tmp_path: Path,
) -> None:
    """Without `id_field` a record's id is its content: an instance repeated elsewhere as a
    plain record gets the instance's split, so the repeat is a duplicate_id there and no id
    is in two splits (the package publishes)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    tasks = [
        {
            "instruction": f"TASK-{t}",
            "instances": [{"input": f"{t}-{k}", "output": f"out {t} {k}"} for k in range(2)],
        }
        for t in range(40)
    ]
    repeats = [
        {"instruction": f"TASK-{t}", "input": f"{t}-1", "output": f"out {t} 1"} for t in range(40)
    ]
    rows = tasks + repeats
    (raw / "a.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    source = {"paths": ["raw/a.jsonl"], "objective": "sft", "adapter": "alpaca", "split": "auto"}
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "content ids"},
            "splits": {"validation": 0.3, "test": 0.3},
            "thresholds": {"max_duplicate_id_rate": 1.0},
            "sources": [{"name": "a", **source}],
        },
    )
    cfg = load_config(config)
    for split in ("train", "validation", "test"):
        build_partition(cfg, f"sft|{split}")
    published = publish(cfg)
    assert published.manifest is not None, published.problems
    records = [r for path in package_shards(tmp_path / "package") for r in read_shard(path)]
    assert len(records) == 80


_ANSWER = {"role": "assistant", "content": "a"}
# One valid raw record, its options and objective per adapter (every adapter: a new one too);
# "Q" is replaced by a text of its own per adapter, so that no two records are duplicates.
_VALID: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "native": ({"messages": [{"role": "user", "content": "Q"}, _ANSWER]}, {}, "sft"),
    "chat": ({"messages": [{"role": "user", "content": "Q"}, _ANSWER]}, {}, "sft"),
    "sharegpt": (
        {"conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "a"}]},
        {},
        "sft",
    ),
    "alpaca": ({"instruction": "Q", "output": "a"}, {}, "sft"),
    "prompt_response": ({"prompt": "Q", "response": "a"}, {}, "sft"),
    "preference_pairs": ({"prompt": "Q", "chosen": "a", "rejected": "b"}, {}, "preference"),
    "hh_rlhf": (
        {"chosen": "\n\nHuman: Q\n\nAssistant: a", "rejected": "\n\nHuman: Q\n\nAssistant: b"},
        {},
        "preference",
    ),
    "qa_reference": ({"question": "Q", "answer": "a"}, {}, "rft"),
    "text": ({"text": "Q"}, {}, "cpt"),
    "mapping": ({"q": "Q", "a": "a"}, {"objective": "sft", "user": "q", "assistant": "a"}, "sft"),
}


def test_every_adapter_writes_metadata_fields_into_metadata_only(tmp_path: Path) -> None:
    """`native` keeps a record's every top-level key: a `metadata_fields` field was copied
    into `metadata` and also left at the top level, so the record failed D6 and the option
    could never keep it. Now, for every adapter, the field is in `metadata` only; a field
    the spec record has (`messages`) is copied and stays where it is."""
    assert set(_VALID) == set(ADAPTERS)
    raw = tmp_path / "raw"
    raw.mkdir()
    sources = []
    for name, (row, options, objective) in _VALID.items():
        line = orjson.dumps({**row, "category": f"c-{name}"}).replace(b"Q", name.encode())
        (raw / f"{name}.jsonl").write_bytes(line)
        kept = ["category", "messages"] if name == "native" else ["category"]
        source = {"name": name, "paths": [f"raw/{name}.jsonl"], "objective": objective}
        sources.append(
            {**source, "adapter": name, "split": "train", "metadata_fields": kept}
            | ({"options": options} if options else {})
        )
    config = write_config(
        tmp_path / "pipeline.yaml",
        {"dataset": {"name": "t", "description": "metadata fields"}, "sources": sources},
    )
    cfg = load_config(config)
    for objective in sorted({s.objective for s in cfg.sources}):
        build_partition(cfg, f"{objective}|train")
    publish(cfg)
    assert _quarantined(tmp_path) == []
    records = [r for path in package_shards(tmp_path / "package") for r in read_shard(path)]
    categories = {r["metadata"]["trace"]["source"]: r["metadata"]["category"] for r in records}
    assert len(records) == len(_VALID) and categories == {n: f"c-{n}" for n in _VALID}
    assert [r for r in records if "category" in r] == []
    (native,) = [r for r in records if r["metadata"]["trace"]["source"] == "native"]
    assert native["metadata"]["messages"] == [{"role": "user", "content": "native"}, _ANSWER]
    assert [m["content"] for m in native["messages"]] == [
        [{"type": "text", "text": t}] for t in ("native", "a")
    ]


def _tool_record(adapter: str, rid: str, tool: str) -> dict[str, Any]:
    """A record of `adapter` (chat, sharegpt, native) calling `tool`, declaring no tools."""
    if adapter == "chat":
        call = {"id": "x1", "type": "function", "function": {"name": tool, "arguments": "{}"}}
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "x1", "content": "ok"},
            {"role": "assistant", "content": "done"},
        ]
        return {"id": rid, "messages": messages}
    if adapter == "sharegpt":
        turns = [
            {"from": "human", "value": "q"},
            {"from": "function_call", "value": orjson.dumps({"name": tool}).decode()},
            {"from": "observation", "value": "ok"},
            {"from": "gpt", "value": "done"},
        ]
        return {"id": rid, "conversations": turns}
    text = [{"type": "text", "text": "done"}]
    call = {"type": "tool_call", "name": tool, "call_id": "x1", "arguments": {}}
    result = {"type": "tool_result", "name": tool, "call_id": "x1", "result": {"content": "ok"}}
    return {
        "id": rid,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "q"}]},
            {"role": "assistant", "content": [call]},
            {"role": "tool", "content": [result]},
            {"role": "assistant", "content": text},
        ],
    }


def test_a_chat_record_calling_undeclared_tools_is_judged_by_the_default_toolset(
    tmp_path: Path,
) -> None:
    """`defaults.toolset_id` governs a chat/sharegpt record that declares no tools, as it
    governs the same record in the spec's shape: a call to a tool the default toolset lacks
    is `schema:E2` for every adapter, and no toolset is made up from the calls."""
    raw = tmp_path / "raw"
    raw.mkdir()
    adapters = ("chat", "sharegpt", "native")
    for adapter in adapters:
        rows = [
            _tool_record(adapter, "good", "lookup_order"),
            _tool_record(adapter, "bad", "delete_everything"),
        ]
        (raw / f"{adapter}.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "default toolset"},
            "thresholds": {"max_invalid_rate": 1.0},
            "toolsets": [{"id": "shop", "tools": [{"name": "lookup_order"}]}],
            "defaults": {"toolset_id": "shop"},
            "sources": [
                {
                    "name": a,
                    "paths": [f"raw/{a}.jsonl"],
                    "objective": "sft",
                    "adapter": a,
                    "split": "train",
                    "id_field": "id",
                }
                for a in adapters
            ],
        },
    )
    cfg = load_config(config)
    build_partition(cfg, "sft|train")
    publish(cfg)
    records = [r for path in package_shards(tmp_path / "package") for r in read_shard(path)]
    assert sorted(r["id"] for r in records) == [f"{a}:good" for a in sorted(adapters)]
    assert all("toolset_id" not in r for r in records)
    quarantined = _quarantined(tmp_path)
    assert sorted((q["trace"]["source"], q["reason"]) for q in quarantined) == [
        (a, "schema:E2") for a in sorted(adapters)
    ]
    meta = orjson.loads((tmp_path / "package" / "metadata.json").read_bytes())
    assert [t["id"] for t in meta["toolsets"]] == ["shop"]
