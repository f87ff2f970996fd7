from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from jsonl_assets.core.adapters import build_adapter, resolve_options
from jsonl_assets.core.adapters.base import Adapted, AdapterError
from jsonl_assets.core.rules import RecordContext, record_errors


def adapt(raw: Any, **options: Any) -> list[Adapted]:
    fn = build_adapter("alpaca", resolve_options("alpaca", options, "sft"))
    return list(fn(raw))


def assert_valid(a: Adapted) -> None:
    assert "id" not in a.record and "metadata" not in a.record
    problems = record_errors(a.record, "sft", RecordContext())
    assert problems == [], problems


def texts(a: Adapted) -> list[tuple[str, str]]:
    return [(m["role"], m["content"][0]["text"]) for m in a.record["messages"]]


def test_instruction_with_and_without_input() -> None:
    [with_input] = adapt(
        {
            "instruction": "Übersetze ins Englische.",
            "input": "Der Igel schläft im Laub.",
            "output": "The hedgehog sleeps in the leaves.",
        }
    )
    assert texts(with_input) == [
        ("user", "Übersetze ins Englische.\n\nDer Igel schläft im Laub."),
        ("assistant", "The hedgehog sleeps in the leaves."),
    ]
    assert with_input.id_suffix == ""
    assert orjson.dumps(with_input.record).startswith(
        b'{"messages":[{"role":"user","content":[{"type":"text"'
    )
    assert_valid(with_input)
    for blank in ("", None):
        raw = {
            "instruction": "Give three tips for staying healthy.",
            "input": blank,
            "output": "1. Eat well...",
        }
        [out] = adapt(raw)
        assert texts(out)[0] == ("user", "Give three tips for staying healthy.")
    [no_key] = adapt({"instruction": "Say hi.", "output": ""})
    assert texts(no_key) == [("user", "Say hi."), ("assistant", "")]


def test_system_and_history_llama_factory_style() -> None:
    raw = {
        "system": "You are a math tutor.",
        "history": [["What is 3 + 4?", "7."], ["And times 2?", "14."]],
        "instruction": "Now subtract 5.",
        "input": "",
        "output": "9.",
    }
    [out] = adapt(raw)
    assert texts(out) == [
        ("system", "You are a math tutor."),
        ("user", "What is 3 + 4?"),
        ("assistant", "7."),
        ("user", "And times 2?"),
        ("assistant", "14."),
        ("user", "Now subtract 5."),
        ("assistant", "9."),
    ]
    assert_valid(out)


def test_whitespace_only_input_and_system_are_kept_as_given() -> None:
    # Only "" and null are no input: whitespace-only text is a value the source gives, kept
    # where a non-blank one goes (before: it vanished, with no trace).
    raw = {"instruction": "Echo.", "input": "  \n", "output": "ok", "system": " \t"}
    [out] = adapt(raw)
    assert texts(out) == [("system", " \t"), ("user", "Echo.\n\n  \n"), ("assistant", "ok")]
    assert_valid(out)
    [inst] = adapt({"instruction": "Echo.", "instances": [{"input": "\t", "output": "ok"}]})
    assert texts(inst) == [("user", "Echo.\n\n\t"), ("assistant", "ok")]
    [no_system] = adapt({"instruction": "Echo.", "output": "ok", "system": ""})
    assert texts(no_system) == [("user", "Echo."), ("assistant", "ok")]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"output": "see instances"}, "output"),
        ({"output": ""}, "output"),
        ({"input": "TOP-LEVEL INPUT"}, "input"),
        ({"input": " "}, "input"),
    ],
)
def test_instances_beside_an_output_or_input_are_refused_not_dropped(
    extra: dict[str, Any], field: str
) -> None:
    # Mapped as a plain record, every instance vanished; mapped by instances, the top-level
    # output or input did. Neither is right: the record is ambiguous and is refused.
    raw = {"instruction": "Translate", **extra, "instances": [{"input": "chat", "output": "cat"}]}
    with pytest.raises(AdapterError) as err:
        adapt(raw)
    assert err.value.reason == "adapter:conflicting_fields"
    assert "instances" in err.value.detail and field in err.value.detail


def test_instances_beside_an_empty_input_or_a_null_output_are_mapped() -> None:
    raw = {
        "instruction": "T",
        "input": "",
        "output": None,
        "instances": [{"input": "a", "output": "b"}],
    }
    [out] = adapt(raw)
    assert texts(out) == [("user", "T\n\na"), ("assistant", "b")]
    with pytest.raises(AdapterError) as err:
        adapt({"instruction": "T", "input": 3, "instances": [{"input": "a", "output": "b"}]})
    assert err.value.reason == "adapter:wrong_type" and "input" in err.value.detail


def test_instance_keys_beyond_input_and_output_go_to_its_record_metadata() -> None:
    raw = {
        "instruction": "Classify.",
        "metadata": {"lang": "en", "id": "task-1-a"},
        "instances": [
            {"id": "task-1-a", "input": "x", "output": "y", "explanation": "because"},
            {"input": "z", "output": "w", "note": None},
        ],
    }
    first, second = adapt(raw)
    assert first.metadata == {"lang": "en", "id": "task-1-a", "explanation": "because"}
    assert second.metadata == {"lang": "en", "id": "task-1-a"}
    assert raw["metadata"] == {"lang": "en", "id": "task-1-a"}  # the input is not changed
    [alone] = adapt({"instruction": "C", "instances": [{"input": "x", "output": "y", "k": [1]}]})
    assert alone.metadata == {"k": [1]}
    clash = {**raw, "instances": [{"id": "task-1-b", "input": "x", "output": "y"}]}
    with pytest.raises(AdapterError) as err:
        adapt(clash)
    assert err.value.reason == "adapter:metadata_conflict"
    assert "instances[0].id" in err.value.detail


def test_seed_corpus_instances_variant(corpus: Path) -> None:
    path = corpus / "alpaca-seed" / "seed_tasks.jsonl"
    lines = path.read_bytes().splitlines()
    assert len(lines) == 175
    total = 0
    for line in lines:
        raw = orjson.loads(line)
        outs = adapt(raw)
        assert [a.id_suffix for a in outs] == [f"#{n}" for n in range(1, len(raw["instances"]) + 1)]
        for a, inst in zip(outs, raw["instances"], strict=True):
            assert_valid(a)
            user = raw["instruction"] + ("\n\n" + inst["input"] if inst["input"].strip() else "")
            assert texts(a) == [("user", user), ("assistant", inst["output"])]
        total += len(outs)
    assert total == 175


def test_several_instances_make_several_records_with_fresh_dicts() -> None:
    raw = {
        "id": "seed_task_9",
        "system": "Classify sentiment.",
        "instruction": "Is the review positive or negative?",
        "instances": [
            {"input": "Loved every minute — 10/10!", "output": "Positive"},
            {"input": "Der Film war langweilig.", "output": "Negative"},
            {"input": "", "output": "Need a review to classify."},
        ],
        "is_classification": True,
    }
    outs = adapt(raw)
    assert [a.id_suffix for a in outs] == ["#1", "#2", "#3"]
    assert texts(outs[1])[1] == (
        "user",
        "Is the review positive or negative?\n\nDer Film war langweilig.",
    )
    assert texts(outs[2])[1] == ("user", "Is the review positive or negative?")
    assert outs[0].record["messages"][0] == outs[1].record["messages"][0]
    assert outs[0].record["messages"][0] is not outs[1].record["messages"][0]
    for a in outs:
        assert_valid(a)


@pytest.mark.parametrize(
    ("raw", "reason", "needle"),
    [
        ({"input": "x", "output": "y"}, "adapter:missing_field", "instruction"),
        ({"instruction": "x"}, "adapter:missing_field", "output"),
        ({"instruction": "x", "output": None}, "adapter:missing_field", "output is null"),
        ({"instruction": 5, "output": "y"}, "adapter:wrong_type", "instruction"),
        ({"instruction": "x", "input": 3, "output": "y"}, "adapter:wrong_type", "input"),
        ({"instruction": "x", "instances": []}, "adapter:no_instances", "instances"),
        ({"instruction": "x", "instances": {"input": ""}}, "adapter:wrong_type", "instances"),
        (
            {"instruction": "x", "instances": [{"input": "a"}]},
            "adapter:missing_field",
            "instances[0].output",
        ),
        (
            {"instruction": "x", "output": "y", "history": [["only one"]]},
            "adapter:wrong_type",
            "history[0]",
        ),
    ],
)
def test_malformed(raw: Any, reason: str, needle: str) -> None:
    with pytest.raises(AdapterError) as err:
        adapt(raw)
    assert err.value.reason == reason
    assert needle in err.value.detail


def test_field_options() -> None:
    [out] = adapt(
        {"prompt": "Q", "response": "A"}, instruction_field="prompt", output_field="response"
    )
    assert texts(out) == [("user", "Q"), ("assistant", "A")]
    with pytest.raises(ValueError, match="unknown option 'prompt_field'"):
        resolve_options("alpaca", {"prompt_field": "q"}, "sft")
    with pytest.raises(ValueError, match="cannot produce 'rft'"):
        resolve_options("alpaca", {}, "rft")
