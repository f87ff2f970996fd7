from __future__ import annotations

import pytest

from jsonl_assets.core.adapters import ADAPTERS, build_adapter, resolve_options
from jsonl_assets.core.adapters.base import AdapterSpec

NAMES = [
    "native",
    "chat",
    "sharegpt",
    "alpaca",
    "prompt_response",
    "preference_pairs",
    "hh_rlhf",
    "qa_reference",
    "text",
    "mapping",
]


def test_registry_names_objectives_and_docs() -> None:
    assert list(ADAPTERS) == NAMES
    objectives = {name: sorted(spec.objectives) for name, spec in ADAPTERS.items()}
    assert objectives == {
        "native": ["cpt", "preference", "rft", "sft"],
        "chat": ["sft"],
        "sharegpt": ["sft"],
        "alpaca": ["sft"],
        "prompt_response": ["sft"],
        "preference_pairs": ["preference"],
        "hh_rlhf": ["preference"],
        "qa_reference": ["rft"],
        "text": ["cpt"],
        "mapping": ["cpt", "preference", "rft", "sft"],
    }
    for name, spec in ADAPTERS.items():
        assert isinstance(spec, AdapterSpec) and spec.name == name
        assert spec.doc.startswith(f"`{name}`")
        for key, option in spec.options.model_fields.items():
            assert option.description, (name, key)


def test_defaults_are_filled_and_objective_added() -> None:
    resolved = resolve_options("qa_reference", {"grading": "numeric"}, "rft")
    assert resolved == {
        "question_field": "question",
        "answer_field": "answer",
        "answer_regex": None,
        "grading": "numeric",
        "tolerance": 0,
        "keep_solution": False,
        "answers_separator": None,
        "objective": "rft",
    }
    # An already-resolved dict resolves to itself (the objective key is accepted when it agrees).
    assert resolve_options("qa_reference", resolved, "rft") == resolved
    for name, spec in ADAPTERS.items():
        if name == "mapping":
            continue
        objective = sorted(spec.objectives)[0]
        resolved = resolve_options(name, None, objective)
        assert set(resolved) == {*spec.options.model_fields, "objective"}
        assert callable(build_adapter(name, resolved))


def test_unknown_adapter_lists_the_valid_names() -> None:
    with pytest.raises(
        ValueError, match=r"unknown adapter 'openai'; valid adapters: \['alpaca', 'chat'"
    ):
        resolve_options("openai", None, "sft")
    with pytest.raises(ValueError, match="unknown adapter 'openai'"):
        build_adapter("openai", {})


def test_objective_errors() -> None:
    with pytest.raises(ValueError, match="unknown objective 'dpo'"):
        resolve_options("native", None, "dpo")
    with pytest.raises(
        ValueError,
        match=r"adapter 'hh_rlhf' cannot produce 'rft' records; it produces \['preference'\]",
    ):
        resolve_options("hh_rlhf", None, "rft")
    assert resolve_options("text", {"objective": "cpt"}, "cpt")["objective"] == "cpt"
    with pytest.raises(ValueError, match="option objective 'cpt' does not match"):
        resolve_options("chat", {"objective": "cpt"}, "sft")


def test_option_errors() -> None:
    with pytest.raises(
        ValueError, match=r"unknown option 'text'; valid options: \['text_field', 'title_field'\]"
    ):
        resolve_options("text", {"text": "body"}, "cpt")
    with pytest.raises(ValueError, match="unknown option 'x'; valid options: none"):
        resolve_options("native", {"x": 1}, "sft")
    with pytest.raises(ValueError, match="'text_field' must not be null"):
        resolve_options("text", {"text_field": None}, "cpt")
    with pytest.raises(ValueError, match="'keep_solution' must be bool, got int 1"):
        resolve_options("qa_reference", {"keep_solution": 1}, "rft")
    with pytest.raises(ValueError, match="options must be a mapping"):
        resolve_options("text", ["text_field"], "cpt")  # type: ignore[arg-type]
    # null for an option whose default is null is fine
    assert resolve_options("chat", {"toolset_id": None}, "sft")["toolset_id"] is None


# A minimal raw record, options and objective per adapter.
MINIMAL: dict[str, tuple[dict[str, object], dict[str, object], str]] = {
    "native": ({"messages": [{"role": "user", "content": "q"}]}, {}, "sft"),
    "chat": ({"messages": [{"role": "user", "content": "q"}]}, {}, "sft"),
    "sharegpt": ({"conversations": [{"from": "human", "value": "q"}]}, {}, "sft"),
    "alpaca": ({"instruction": "q", "output": "a"}, {}, "sft"),
    "prompt_response": ({"prompt": "q", "response": "a"}, {}, "sft"),
    "preference_pairs": ({"prompt": "q", "chosen": "a", "rejected": "b"}, {}, "preference"),
    "hh_rlhf": (
        {"chosen": "\n\nHuman: q\n\nAssistant: a", "rejected": "\n\nHuman: q\n\nAssistant: b"},
        {},
        "preference",
    ),
    "qa_reference": ({"question": "q", "answer": "a"}, {}, "rft"),
    "text": ({"text": "t"}, {}, "cpt"),
    "mapping": ({"q": "q", "a": "a"}, {"objective": "sft", "user": "q", "assistant": "a"}, "sft"),
}


@pytest.mark.parametrize("name", NAMES)
def test_every_adapter_keeps_the_record_own_metadata_object(name: str) -> None:
    # `mapping` dropped it; one table so that no adapter (a new one included) can.
    assert set(MINIMAL) == set(ADAPTERS)
    raw, options, objective = MINIMAL[name]
    meta = {"lang": "en", "license": "CC-BY-4.0"}
    made = list(
        build_adapter(name, resolve_options(name, options, objective))({**raw, "metadata": meta})
    )
    assert made and all(a.metadata == meta for a in made)
