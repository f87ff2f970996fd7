"""A walk holds the first problems of each rule and counts the rest (walk_state.Problems):
a capped rule never hides another rule, and an ordinary record holds every problem."""

from __future__ import annotations

from typing import Any

from jsonl_assets.core.rules import ERROR, RecordContext, record_errors, record_problems, walk_state


def _record(parts: int) -> dict[str, Any]:
    """A user message of `parts` unknown part types (D14 each) and no assistant (F1)."""
    content = [{"type": "img"} for _ in range(parts)]
    return {"id": "r", "messages": [{"role": "user", "content": content}]}


def test_a_capped_rule_does_not_hide_the_others() -> None:
    problems = record_errors(_record(100), "sft", RecordContext())
    assert len(problems) < 100  # before: all 100 D14 held
    cap = walk_state.PROBLEMS_PER_RULE
    assert [p.rule for p in problems] == ["D14"] * cap + ["F1"]
    assert problems[-2].message.startswith(f"messages[0].content[{cap - 1}]:")
    assert problems.omitted == {("D14", ERROR): 100 - cap}


def test_an_ordinary_record_holds_every_problem() -> None:
    cap = walk_state.PROBLEMS_PER_RULE
    problems = record_problems(_record(cap), "sft", RecordContext())
    assert [p.rule for p in problems] == ["D14"] * cap + ["F1"]
    assert problems.omitted == {}
