"""The one walk over a record: the record's own keys (D1-D8), its messages (messages.py), and
what its objective adds (F1, F12 here; candidates and reference in objectives.py).

The build calls `record_errors` for every record; `verify` and the quarantine details use the
same walk, with warnings (`record_problems`). Which findings count, and at what severity, for
which objective, comes from table.py; so do the rows that carry their own check (declared.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonl_assets.core.rules.context import RecordContext
from jsonl_assets.core.rules.declared import check_parts, declared
from jsonl_assets.core.rules.messages import walk_messages, walk_parts
from jsonl_assets.core.rules.objectives import candidates, reference
from jsonl_assets.core.rules.tools import BROKEN, unanswered
from jsonl_assets.core.rules.vocabulary import (
    ABSENT,
    NO_DICT,
    OBJECTIVE_ONLY_KEYS,
    json_type_name,
    short,
)
from jsonl_assets.core.rules.walk_state import (
    ASSISTANT,
    CONTENT_PLAN,
    DOCUMENT,
    ERRORS_PLANS,
    PROBLEMS_PLANS,
    Plan,
    Problem,
    Walk,
)


def record_errors(
    record: object,
    objective: str,
    ctx: RecordContext,
    *,
    _plans: Mapping[str, Plan] = ERRORS_PLANS,
) -> list[Problem]:
    """The error-severity problems of one record, in walk order (a fresh list).

    This is the walk itself, not a wrapper around it: the build calls it for every record, and
    `record_problems` calls it with the plans that keep warnings too (`_plans`).
    """
    plan = _plans.get(objective)
    if plan is None:
        raise ValueError(f"unknown objective {objective!r}")
    # The walk (the problems found, the tool state) is made when the record first needs one:
    # a valid record without a toolset_id or tool use goes through without it.
    w: Walk | None = None
    if type(record) is not dict:
        w = Walk(plan, ctx)
        w.report("D1.root", None, json_type_name(record))
        return w.problems
    toolset_id = record.get("toolset_id", ABSENT)
    if (
        not record.keys() <= plan.record_keys
        or type(record.get("id", "")) is not str
        or type(record.get("metadata", NO_DICT)) is not dict
        or (
            toolset_id is not ABSENT
            and (type(toolset_id) is not str or toolset_id not in ctx.toolsets)
        )
    ):
        w = Walk(plan, ctx)
        _own_keys(w, record)
    elif toolset_id is not ABSENT:  # a known toolset: _own_keys would only note it
        w = Walk(plan, ctx)
        w.toolset = toolset_id
    messages = record.get("messages", ABSENT)
    if type(messages) is not list:
        w = w or Walk(plan, ctx)
        if messages is ABSENT:
            w.report("D3.missing", None)
        else:
            w.report("D3.type", None, json_type_name(messages))
    else:
        if not messages:  # an error, or a warning for the shared context of preference
            w = w or Walk(plan, ctx)
            w.report("D4.empty", None)
            w.report("D4.context", None)
        roles, w = walk_messages(w, plan, ctx, messages, "messages")
        if plan.needs_assistant and not roles & ASSISTANT:
            w = w or Walk(plan, ctx)
            w.report("F1.assistant", None)
        if plan.needs_document and not roles & DOCUMENT:
            w = w or Walk(plan, ctx)
            w.report("F12.document", None)
    branches = 0
    if plan.reference:  # rft
        w = reference(w, plan, ctx, record)
    elif plan.candidates:  # preference: E7 is judged per branch
        branches, w = candidates(w, plan, ctx, record)
    if w is not None and w.calls is not None and not branches and plan.unanswered_warns:
        unanswered(w, -1)
    if plan.declared:  # the table's rows with their own check
        w = declared(w, plan, ctx, record)
    return [] if w is None else w.problems


def record_problems(record: object, objective: str, ctx: RecordContext) -> list[Problem]:
    """Errors and warnings of one record, in walk order."""
    return record_errors(record, objective, ctx, _plans=PROBLEMS_PLANS)


def content_problems(content: object, where: str, ctx: RecordContext) -> list[Problem]:
    """D11/D12 and D14-D20 for a content array outside a record (e.g. `defaults.system`).

    Tool-use consistency (E rules) is not judged: there is no conversation around it.
    """
    w = Walk(CONTENT_PLAN, ctx)
    w.in_record = False
    if type(content) is not list:
        w.report("D11.type", (where, -1, -1), json_type_name(content))
    else:
        if not content:
            w.report("D12.empty", (where, -1, -1))
        walk_parts(w, content, 0, where, -1, None)
        check_parts(w, content, where, -1)
    return w.problems


def _own_keys(w: Walk, record: dict[str, Any]) -> None:
    """D5, D6 and D8: the record's keys besides its messages."""
    if not record.keys() <= w.plan.record_keys:
        _unknown_keys(w, record)
    if type(record.get("id", "")) is not str:
        w.report("D5.id", None, json_type_name(record["id"]))
    if type(record.get("metadata", NO_DICT)) is not dict:
        w.report("D5.metadata", None, json_type_name(record["metadata"]))
    toolset_id = record.get("toolset_id", ABSENT)
    if toolset_id is not ABSENT:
        w.toolset = toolset_id
        if type(toolset_id) is not str:
            w.report("D5.toolset_id", None, json_type_name(toolset_id))
            w.toolset = BROKEN
        elif toolset_id not in w.ctx.toolsets:
            w.report("D8.toolset", None, short(toolset_id))


def _unknown_keys(w: Walk, record: dict[str, Any]) -> None:
    allowed = w.plan.record_keys
    for key in record:
        if key not in allowed:
            owner = OBJECTIVE_ONLY_KEYS.get(key)
            if owner is not None:
                w.report("D6.owner", None, key, owner, w.plan.objective)
            else:
                w.report("D6.key", None, short(key))
