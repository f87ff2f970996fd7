"""The rows of table.py that carry their own check, called on every record, message and
content part they apply to (a preference record's candidates' messages included)."""

from __future__ import annotations

from typing import Any

from jsonl_assets.core.rules.context import RecordContext
from jsonl_assets.core.rules.walk_state import Plan, Walk


def declared(w: Walk | None, plan: Plan, ctx: RecordContext, record: dict[str, Any]) -> Walk:
    """Report what the declared checks find in `record`; return the walk (made if needed)."""
    w = w or Walk(plan, ctx)
    for key, check in plan.record_checks:
        args = check(record)
        if args is not None:
            w.report(key, None, *args)
    if not (plan.message_checks or plan.part_checks):
        return w
    branches: list[tuple[str | int, Any]] = [("messages", record.get("messages"))]
    entries = record.get("candidates") if plan.candidates else None
    if type(entries) is list:
        branches += [(k, c.get("messages")) for k, c in enumerate(entries) if type(c) is dict]
    for prefix, messages in branches:
        if type(messages) is not list:
            continue
        for i, message in enumerate(messages):
            if type(message) is not dict:
                continue
            for key, check in plan.message_checks:
                args = check(message)
                if args is not None:
                    w.report(key, (prefix, i, -1), *args)
            content = message.get("content")
            if type(content) is list:
                check_parts(w, content, prefix, i)
    return w


def check_parts(w: Walk, content: list[Any], prefix: str | int, i: int) -> None:
    """The declared part checks on each object of `content` (message `i`; i < 0: `prefix` is
    the content array itself)."""
    for j, part in enumerate(content):
        if type(part) is dict:
            for key, check in w.plan.part_checks:
                args = check(part)
                if args is not None:
                    w.report(key, (prefix, i, j), *args)
