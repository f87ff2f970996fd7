"""Preference candidates (objectives.py): each branch continues the shared context, whose
tool calls are looked up, not copied, so that one record's work and problems are bounded by
its size and never (context calls) x (candidates)."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from jsonl_assets.core.rules import WARNING, RecordContext, record_problems, tools, walk_state

CTX = RecordContext(toolsets={"ts": frozenset({"f"})}, default_toolset_id="ts")


def _text(role: str) -> dict[str, Any]:
    return {"role": role, "content": [{"type": "text", "text": "x"}]}


def _calls(m: int) -> dict[str, Any]:
    parts = [
        {"type": "tool_call", "name": "f", "call_id": f"c{i}", "arguments": {}} for i in range(m)
    ]
    return {"role": "assistant", "content": parts}


def _answer(call_id: str) -> dict[str, Any]:
    part = {"type": "tool_result", "name": "f", "call_id": call_id, "result": {}}
    return {"role": "tool", "content": [part]}


def _record(m: int, rejected: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """A context of `m` unanswered calls; a chosen candidate that answers none of them, and
    a rejected candidate per entry of `rejected` (its messages)."""
    candidates = [{"label": "chosen", "messages": [_text("assistant")]}]
    candidates += [{"label": "rejected", "messages": messages} for messages in rejected]
    return {"id": "p", "messages": [_text("user"), _calls(m)], "candidates": candidates}


def _e7(call: int, candidate: int) -> str:
    return (
        f"messages[1].content[{call}]: tool_call 'c{call}' ('f') has no tool_result later in "
        f"the record (in the branch of candidates[{candidate}])"
    )


def test_unanswered_context_calls_are_counted_not_held() -> None:
    m, k = 200, 200
    problems = record_problems(_record(m, [[] for _ in range(k)]), "preference", CTX)
    assert len(problems) <= 100  # before: m x (k + 1) E7 warnings and k D4 errors
    cap = walk_state.PROBLEMS_PER_RULE
    e7 = [p.message for p in problems if p.rule == "E7"]
    # The first problems of the rule, in walk order; every other one is counted.
    assert e7 == [_e7(i, 0) for i in range(cap)]
    assert len(e7) + problems.omitted[("E7", WARNING)] == m * (k + 1)
    d4 = [p for p in problems if p.rule == "D4"]  # k empty candidates: warnings, capped too
    assert len(d4) + problems.omitted[("D4", WARNING)] == k
    assert len(problems) == 2 * cap


def test_branches_do_not_build_calls_times_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Problems built and values formatted stay linear in the record (before: m x k)."""
    m, k = 300, 300
    record = _record(m, [[] for _ in range(k)])
    built = shortened = 0
    problem, short = walk_state.Problem, tools.short

    def counting_problem(*args: Any) -> walk_state.Problem:
        nonlocal built
        built += 1
        return problem(*args)

    def counting_short(value: object, limit: int = 60) -> str:
        nonlocal shortened
        shortened += 1
        return short(value, limit)

    monkeypatch.setattr(walk_state, "Problem", counting_problem)
    monkeypatch.setattr(tools, "short", counting_short)
    tracemalloc.start()
    try:
        problems = record_problems(record, "preference", CTX)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert built == len(problems) <= 100  # the capped D4 and E7 (before: m x (k + 1) + k)
    assert shortened <= 2 * (m + k)
    assert peak < 1_000_000  # before: ~90,000 formatted problems held (tens of MB)
    assert sum(problems.omitted.values()) + len(problems) == m * (k + 1) + k


def test_capped_branches_count_what_each_branch_leaves_open() -> None:
    """Past the cap, a branch's unanswered context calls are counted from its own answers:
    the counts are those of the full walk, the held problems its first ones."""
    m, k = 10, 30
    rejected = [[_answer(f"c{j % m}"), _text("assistant")] for j in range(k)]
    problems = record_problems(_record(m, rejected), "preference", CTX)
    cap = walk_state.PROBLEMS_PER_RULE
    expected = [_e7(i, 0) for i in range(m)]
    for j in range(k):
        expected += [_e7(i, j + 1) for i in range(m) if i != j % m]
    assert len(expected) == m + k * (m - 1)
    assert [p.message for p in problems] == expected[:cap]
    assert problems.omitted == {("E7", WARNING): len(expected) - cap}


def test_a_branch_still_sees_the_context_calls() -> None:
    """Repeats of and answers to the context's calls are judged per branch, as before."""
    repeat = {"type": "tool_call", "name": "f", "call_id": "c0", "arguments": {}}
    wrong_name = {"type": "tool_result", "name": "g", "call_id": "c1", "result": {}}
    rejected = [
        [{"role": "assistant", "content": [repeat]}, _answer("c0")],
        [{"role": "tool", "content": [wrong_name]}, _answer("c0"), _text("assistant")],
    ]
    problems = record_problems(_record(2, rejected), "preference", CTX)
    assert [(p.rule, p.message) for p in problems] == [
        ("E7", _e7(0, 0)),
        ("E7", _e7(1, 0)),
        (
            "E4",
            "candidates[1].messages[0].content[0].call_id: 'c0' repeats the call at "
            "messages[1].content[0]",
        ),
        ("E7", _e7(1, 1)),
        (
            "E6",
            "candidates[2].messages[0].content[0].name: 'g' differs from 'f', the name of "
            "call 'c1' at messages[1].content[1]",
        ),
    ]
