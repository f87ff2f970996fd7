"""Records that are valid but useless, through real builds of real (compressed) files.

Each source below mixes good records with ones whose content is empty or blank where the
objective needs it: an sft record whose final assistant turn is empty (a string, a list of
blank parts, unicode whitespace, zero-width spaces, no content at all, only reasoning), an
alpaca record with an empty instruction, an rft record with an empty question and one with an
empty reference answer, a preference candidate with nothing in it, a cpt record with a blank
document. By default each is quarantined as `quality:<code>`; `warn` writes and counts them,
`keep` writes them silently, per source or for the whole config. Spec warnings (the checklist's
W rules) are counted per partition, and `quality.spec_warnings: quarantine` rejects them.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import orjson
import pytest
import zstandard

from jsonl_assets.core.config import ConfigError, load_config
from jsonl_assets_tests.conftest import (
    build_with_core,
    materialize,
    package_shards,
    read_shard,
    write_config,
)

NBSP_IDEOGRAPHIC = " \u00a0\u3000\n\t\u2028 "
ZERO_WIDTH = "\u200b\u200b\ufeff"


def _chat(i: str, user: Any, assistant: Any, **answer_keys: Any) -> dict[str, Any]:
    answer = {"role": "assistant", "content": assistant, **answer_keys}
    return {"id": i, "messages": [{"role": "user", "content": user}, answer]}


# id -> the reason it is quarantined under the default policy (None: written).
CHATS: list[tuple[dict[str, Any], str | None]] = [
    *[(_chat(f"good{i}", f"question {i}", f"answer {i}"), None) for i in range(12)],
    (_chat("empty_answer", "Why?", ""), "quality:empty_assistant"),
    (_chat("unicode_blank_answer", "Why?", NBSP_IDEOGRAPHIC), "quality:empty_assistant"),
    (_chat("zero_width_answer", "Why?", ZERO_WIDTH), "quality:empty_assistant"),
    (
        _chat(
            "blank_parts_answer",
            "Why?",
            [{"type": "text", "text": "  "}, {"type": "text", "text": ""}],
        ),
        "quality:empty_assistant",
    ),
    (_chat("null_answer", "Why?", None), "quality:empty_assistant"),
    (
        _chat("reasoning_only_answer", "Why?", "", reasoning_content="Let me think."),
        "quality:empty_assistant",
    ),
    (_chat("blank_question", "   ", "An answer to nothing."), "quality:empty_user"),
    (
        {
            "id": "last_turn_blank",
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
                {"role": "user", "content": "and then?"},
                {"role": "assistant", "content": " \n"},
            ],
        },
        "quality:empty_assistant",
    ),
    (
        {
            "id": "earlier_turn_blank_is_fine",
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": ""},
                {"role": "user", "content": "and then?"},
                {"role": "assistant", "content": "then this"},
            ],
        },
        None,
    ),
]

ALPACA: list[tuple[dict[str, Any], str | None]] = [
    *[({"id": f"a{i}", "instruction": f"Do {i}", "output": f"done {i}"}, None) for i in range(8)],
    ({"id": "no_instruction", "instruction": "", "output": "something"}, "quality:empty_user"),
    (
        {"id": "blank_instruction", "instruction": "\u3000", "input": " ", "output": "x"},
        "quality:empty_user",
    ),
    ({"id": "input_only", "instruction": "", "input": "Sort 3 1 2", "output": "1 2 3"}, None),
    ({"id": "no_output", "instruction": "Do it", "output": "   "}, "quality:empty_assistant"),
]

QA: list[tuple[dict[str, Any], str | None]] = [
    *[
        ({"id": f"q{i}", "question": f"What is {i}+1?", "answer": str(i + 1)}, None)
        for i in range(8)
    ],
    ({"id": "no_question", "question": "", "answer": "4"}, "quality:empty_user"),
    (
        {"id": "no_answer", "question": "What is 2+2?", "answer": " \u00a0"},
        "quality:empty_reference",
    ),
]


def _user(text: Any) -> dict[str, Any]:
    return {"role": "user", "content": text}


def _cand(label: str, content: Any) -> dict[str, Any]:
    return {"label": label, "messages": [{"role": "assistant", "content": content}]}


RFT_NATIVE: list[tuple[dict[str, Any], str | None]] = [
    *[
        (
            {
                "id": f"n{i}",
                "messages": [_user(f"Name fruit {i}")],
                "reference": {"grading": {"type": "any_of"}, "answers": ["apple", "pear"]},
            },
            None,
        )
        for i in range(8)
    ],
    (
        {
            "id": "blank_in_any_of",
            "messages": [_user("Name a fruit")],
            "reference": {"grading": {"type": "any_of"}, "answers": ["apple", ""]},
        },
        "quality:empty_reference",
    ),
    (
        {
            "id": "no_user_turn",
            "messages": [{"role": "system", "content": "Answer."}],
            "reference": {"grading": {"type": "exact_match"}, "answer": "4"},
        },
        "quality:empty_user",
    ),
]

PREFERENCE: list[tuple[dict[str, Any], str | None]] = [
    *[
        (
            {
                "id": f"p{i}",
                "messages": [_user(f"Tip {i}?")],
                "candidates": [_cand("chosen", "Water early."), _cand("rejected", "Never.")],
            },
            None,
        )
        for i in range(8)
    ],
    (
        {
            "id": "blank_rejected",
            "messages": [_user("Tip?")],
            "candidates": [_cand("chosen", "Mulch."), _cand("rejected", NBSP_IDEOGRAPHIC)],
        },
        "quality:empty_candidate",
    ),
    (
        {
            "id": "empty_parts_chosen",
            "messages": [_user("Tip?")],
            "candidates": [_cand("chosen", []), _cand("rejected", "No.")],
        },
        "quality:empty_candidate",
    ),
    (
        {  # spec-valid (a D4 warning): the build rejects it by the quality rule
            "id": "no_message_rejected",
            "messages": [_user("Tip?")],
            "candidates": [_cand("chosen", "Mulch."), {"label": "rejected", "messages": []}],
        },
        "quality:empty_candidate",
    ),
    (
        {
            "id": "blank_prompt",
            "messages": [_user(" ")],
            "candidates": [_cand("chosen", "Mulch."), _cand("rejected", "No.")],
        },
        "quality:empty_user",
    ),
]


def _doc(i: str, *contents: Any) -> dict[str, Any]:
    return {"id": i, "messages": [{"role": "document", "content": c} for c in contents]}


CPT: list[tuple[dict[str, Any], str | None]] = [
    *[(_doc(f"d{i}", f"Document number {i}."), None) for i in range(8)],
    (_doc("blank_doc", NBSP_IDEOGRAPHIC), "quality:empty_document"),
    (_doc("blank_part_doc", [{"type": "text", "text": ""}]), "quality:empty_document"),
    (
        _doc(
            "title_only",
            [{"type": "json", "data": {"title": "T"}}],
            [{"type": "text", "text": " "}],
        ),
        "quality:empty_document",
    ),
    (_doc("second_chunk_has_text", "  ", "real text"), None),
]

SOURCES: dict[
    str, tuple[str, str, str, list[tuple[dict[str, Any], str | None]], dict[str, Any]]
] = {
    # name: (file, objective, adapter, rows, extra source keys)
    "chats": ("raw/chats.jsonl.gz", "sft", "chat", CHATS, {"id_field": "id"}),
    "alpaca": ("raw/alpaca.jsonl.zst", "sft", "alpaca", ALPACA, {"id_field": "id"}),
    "qa": ("raw/qa.jsonl", "rft", "qa_reference", QA, {"id_field": "id"}),
    "rft_native": ("raw/rft.jsonl.zst", "rft", "native", RFT_NATIVE, {"id_field": "id"}),
    "tips": ("raw/tips.jsonl.gz", "preference", "native", PREFERENCE, {"id_field": "id"}),
    "docs": ("raw/docs.jsonl", "cpt", "native", CPT, {"id_field": "id"}),
}


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    data = b"".join(orjson.dumps(row) + b"\n" for row in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    elif path.suffix == ".zst":
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)


def _project(tmp: Path, quality: dict[str, Any] | None = None, **per_source: Any) -> Path:
    sources = []
    for name, (file, objective, adapter, rows, extra) in SOURCES.items():
        _write_rows(tmp / file, [row for row, _ in rows])
        entry: dict[str, Any] = {
            "name": name,
            "paths": [file],
            "objective": objective,
            "adapter": adapter,
            "split": "train",
            **extra,
        }
        if name in per_source:
            entry["quality"] = per_source[name]
        sources.append(entry)
    config: dict[str, Any] = {
        "dataset": {"name": "quality", "description": "useless records"},
        "thresholds": {"max_invalid_rate": 0.9},
        "sources": sources,
    }
    if quality is not None:
        config["quality"] = quality
    return write_config(tmp / "pipeline.yaml", config)


def _written_ids(package: Path) -> set[str]:
    return {r["id"] for shard in package_shards(package) for r in read_shard(shard)}


def _quarantined(tmp: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((tmp / "quarantine").rglob("validated.jsonl")):
        for line in path.read_bytes().splitlines():
            entry = orjson.loads(line)
            record = orjson.loads(entry["raw"])
            out[record["id"]] = entry
    return out


def _validated_report(tmp: Path, objective: str) -> dict[str, Any]:
    marker = orjson.loads((tmp / "work" / objective / "train" / "validated.json").read_bytes())
    return marker["report"]


def _source_id(name: str, row: dict[str, Any]) -> str:
    return f"{name}:{row['id']}"


def _expected() -> dict[str, str | None]:
    """Record id -> the reason its row gets under the default policy (None: written)."""
    return {
        _source_id(name, row): reason
        for name, (_, _, _, rows, _) in SOURCES.items()
        for row, reason in rows
    }


@pytest.mark.parametrize("one_pass", [True, False], ids=["one-pass", "stage-by-stage"])
def test_useless_records_are_quarantined_by_default(tmp_path: Path, one_pass: bool) -> None:
    package = build_with_core(_project(tmp_path), one_pass)
    written = _written_ids(package)
    quarantined = _quarantined(tmp_path)
    expected = _expected()
    for ident, reason in expected.items():
        if reason is None:
            assert ident in written, ident
            assert ident not in quarantined, (ident, quarantined.get(ident))
        else:
            assert ident not in written, ident
            entry = quarantined[ident]
            assert entry["reason"] == reason, (ident, entry)
            assert entry["stage"] == "validated"
            assert entry["trace"]["source"] == ident.split(":", 1)[0]
            detail = entry["detail"]
            assert any(w in detail for w in ("empty or blank", "no user turn", "no message")), entry
    assert set(quarantined) == {ident for ident, reason in expected.items() if reason}
    sft = _validated_report(tmp_path, "sft")
    assert sft["extra"]["quality_quarantined"] == {
        "quality:empty_assistant": 8,
        "quality:empty_user": 3,
    }
    # Quality rejections count as invalid records (the invalid_rate check's numerator).
    assert sft["extra"]["invalid"] == 11
    assert sft["records_out"] == sft["records_in"] - 11


def test_warn_writes_the_records_and_counts_them(tmp_path: Path) -> None:
    rules = [
        "empty_user",
        "empty_assistant",
        "empty_reference",
        "empty_candidate",
        "empty_document",
    ]
    package = build_with_core(_project(tmp_path, {rule: "warn" for rule in rules}))
    assert _written_ids(package) == set(_expected())
    assert _quarantined(tmp_path) == {}
    sft = _validated_report(tmp_path, "sft")["extra"]
    assert sft["quality_warned"] == {
        "quality:empty_assistant": 8,
        "quality:empty_user": 3,
        "quality:spec_warning:D12": 1,  # the null answer: an empty content array
    }
    assert sft["spec_warnings"] == {"D12": 1}
    assert sft["quality_quarantined"] == {}
    assert sft["invalid"] == 0
    examples = sft["quality_warned_examples"]["quality:empty_user"]
    assert {e["source"] for e in examples} == {"chats", "alpaca"}
    cpt = _validated_report(tmp_path, "cpt")["extra"]
    assert cpt["quality_warned"] == {"quality:empty_document": 3}


def test_keep_writes_the_records_silently(tmp_path: Path) -> None:
    rules = [
        "empty_user",
        "empty_assistant",
        "empty_reference",
        "empty_candidate",
        "empty_document",
    ]
    package = build_with_core(_project(tmp_path, {rule: "keep" for rule in rules}))
    assert _written_ids(package) == set(_expected())
    assert _quarantined(tmp_path) == {}
    for objective in ("sft", "rft", "preference", "cpt"):
        extra = _validated_report(tmp_path, objective)["extra"]
        assert extra["quality_quarantined"] == {}
        assert all(code.startswith("quality:spec_warning:") for code in extra["quality_warned"])


def test_a_source_overrides_the_global_policy(tmp_path: Path) -> None:
    config = _project(
        tmp_path,
        {"empty_assistant": "warn"},
        alpaca={"empty_assistant": "quarantine", "empty_user": "keep"},
    )
    build_with_core(config)
    quarantined = _quarantined(tmp_path)
    reasons = {ident: e["reason"] for ident, e in quarantined.items()}
    assert reasons["alpaca:no_output"] == "quality:empty_assistant"  # alpaca: quarantine
    assert "chats:empty_answer" not in reasons  # chats: the global warn
    assert "alpaca:no_instruction" not in reasons  # alpaca: keep
    assert "alpaca:blank_instruction" not in reasons
    assert reasons["chats:blank_question"] == "quality:empty_user"  # chats: the default
    sft = _validated_report(tmp_path, "sft")["extra"]
    assert sft["quality_warned"]["quality:empty_assistant"] == 7


def _spec_warning_project(tmp: Path, action: str | None) -> Path:
    rows = [
        {"id": f"ok{i}", "messages": [_user(f"q{i}"), {"role": "assistant", "content": "a"}]}
        for i in range(6)
    ] + [
        # D12: an empty content array (on a system message: not a turn the quality rules judge).
        {
            "id": "d12",
            "messages": [
                {"role": "system", "content": []},
                _user("q"),
                {"role": "assistant", "content": "a"},
            ],
        },
        # D21: a document-role message in an sft record.
        {
            "id": "d21",
            "messages": [
                {"role": "document", "content": "ctx"},
                _user("q"),
                {"role": "assistant", "content": "a"},
            ],
        },
    ]
    _write_rows(tmp / "raw" / "native.jsonl.gz", rows)
    config: dict[str, Any] = {
        "dataset": {"name": "warnings", "description": "spec warnings"},
        "thresholds": {"max_invalid_rate": 0.9},
        "sources": [
            {
                "name": "native",
                "paths": ["raw/native.jsonl.gz"],
                "objective": "sft",
                "adapter": "native",
                "split": "train",
                "id_field": "id",
            }
        ],
    }
    if action is not None:
        config["quality"] = {"spec_warnings": action}
    return write_config(tmp / "pipeline.yaml", config)


@pytest.mark.parametrize("action", [None, "warn", "keep", "quarantine"])
def test_spec_warnings_are_counted_and_can_be_quarantined(
    tmp_path: Path, action: str | None
) -> None:
    package = build_with_core(_spec_warning_project(tmp_path, action))
    written = _written_ids(package)
    quarantined = _quarantined(tmp_path)
    extra = _validated_report(tmp_path, "sft")["extra"]
    if action == "quarantine":
        assert written == {f"native:ok{i}" for i in range(6)}
        assert {k: v["reason"] for k, v in quarantined.items()} == {
            "native:d12": "quality:spec_warning:D12",
            "native:d21": "quality:spec_warning:D21",
        }
        assert "D12" in quarantined["native:d12"]["detail"]
        assert extra["invalid"] == 2
    else:
        assert len(written) == 8 and quarantined == {}
        assert extra["invalid"] == 0
    if action in ("keep", "quarantine"):  # not computed; raised by no written record
        assert extra["spec_warnings"] == {}
    else:
        assert extra["spec_warnings"] == {"D12": 1, "D21": 1}


def test_quality_rejections_count_toward_the_invalid_rate_check(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    config = _project(tmp_path)
    text = config.read_text().replace("max_invalid_rate: 0.9", "max_invalid_rate: 0.1")
    config.write_text(text)
    result = materialize(config, instance, "sft|train")
    checks = {
        c.check_name: c
        for c in result.get_asset_check_evaluations()
        if c.asset_key == dg.AssetKey("validated")
    }
    invalid = checks["invalid_rate"]
    assert not invalid.passed
    assert invalid.metadata["failed"].value == 11
    examples = invalid.metadata["example_traces"].value
    assert "chats" in examples and "_none_" not in examples
    mats = instance.get_latest_materialization_event(dg.AssetKey("validated"))
    assert mats is not None
    meta = mats.asset_materialization.metadata
    assert meta["quality_quarantined"].value == {
        "quality:empty_assistant": 8,
        "quality:empty_user": 3,
    }


@pytest.mark.parametrize(
    ("quality", "key", "message"),
    [
        ({"empty_answer": "warn"}, "quality.empty_answer", "unknown key"),
        ({"empty_user": "drop"}, "quality.empty_user", "quarantine, warn, keep"),
        ({"spec_warnings": True}, "quality.spec_warnings", "quarantine, warn, keep"),
        ("keep", "quality", "must be a mapping"),
    ],
)
def test_bad_quality_config_is_an_error_naming_the_key(
    tmp_path: Path, quality: Any, key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_project(tmp_path, quality))
    assert err.value.key == key and message in err.value.message, err.value


def test_a_rule_of_another_objective_in_a_source_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_project(tmp_path, None, docs={"empty_assistant": "warn"}))
    assert err.value.key == "sources[5].quality.empty_assistant"
    assert "cpt" in err.value.message


def test_the_cli_shows_the_records_written_with_warnings(tmp_path: Path) -> None:
    config = _spec_warning_project(tmp_path, None)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    env.pop("JSONL_ASSETS_CONFIG", None)
    cli = Path(sys.executable).parent / "jsonl-assets"
    done = subprocess.run(
        [str(cli), "build", "--config", str(config), "--partition", "sft|train"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = (
        "sft|train: written with warnings: quality:spec_warning:D12 1, quality:spec_warning:D21 1"
    )
    assert line in done.stdout.splitlines(), done.stdout
