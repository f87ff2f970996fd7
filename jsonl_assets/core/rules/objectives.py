"""F rules that need more than the message walk: preference candidates (F2-F6, each one a
tool-use branch continuing the shared context) and the rft reference (F7-F10).

F1, F11, F12 and F13 are judged where the walk meets them (walker.py, messages.py, tools.py).
"""

from __future__ import annotations

from typing import Any, Final

from jsonl_assets.core.rules.context import RecordContext
from jsonl_assets.core.rules.messages import walk_messages
from jsonl_assets.core.rules.tools import Pending, unanswered
from jsonl_assets.core.rules.vocabulary import (
    ABSENT,
    CANDIDATE_KEYS,
    GRADING_TYPES,
    REFERENCE_KEYS,
    RUBRIC_LISTS,
    is_number,
    json_type_name,
    short,
)
from jsonl_assets.core.rules.walk_state import Plan, Walk

_GRADING_CODES: Final = frozenset({"F8", "F9", "F10"})  # warnings only: skipped for errors


def candidates(
    w: Walk | None, plan: Plan, ctx: RecordContext, record: dict[str, Any]
) -> tuple[int, Walk | None]:
    """F2-F6 and each candidate's messages; return how many branches were walked, and the
    walk (None while nothing needed one, as in walk_messages)."""
    entries = record.get("candidates", ABSENT)
    if type(entries) is not list or len(entries) < 2:
        w = w or Walk(plan, ctx)
        if entries is ABSENT:
            w.report("F2.missing", None)
            return 0, w
        if type(entries) is not list:
            w.report("F2.type", None, json_type_name(entries))
            return 0, w
        w.report("F2.count", None, len(entries))
    chosen = rejected = False
    ids: dict[str, int] | None = None
    branches = 0
    # Each branch starts from the context's calls: they are looked up, not copied, and the
    # ones the context leaves unanswered are listed once.
    if w is None:
        context_calls = context_answered = None
    else:
        context_calls, context_answered = w.calls, w.answered
    pending = (
        Pending(context_calls, context_answered)
        if context_calls is not None and plan.unanswered_warns
        else None
    )
    for k, candidate in enumerate(entries):
        if type(candidate) is not dict:
            w = w or Walk(plan, ctx)
            w.report("F4.type", ("candidates", k, -1), json_type_name(candidate))
            continue
        label = candidate.get("label", ABSENT)
        if label == "chosen":
            chosen = True
        elif label == "rejected":
            rejected = True
        candidate_id = candidate.get("candidate_id", ABSENT)
        repeats: int | None = None  # the candidate whose candidate_id this one repeats
        if type(candidate_id) is str:
            if ids is None:
                ids = {candidate_id: k}
            elif candidate_id in ids:
                repeats = ids[candidate_id]
            else:
                ids[candidate_id] = k
        continuation = candidate.get("messages", ABSENT)
        if not (
            candidate.keys() <= CANDIDATE_KEYS
            and (label == "chosen" or label == "rejected")
            and (candidate_id is ABSENT or (type(candidate_id) is str and repeats is None))
            and type(continuation) is list
            and continuation
        ):
            w = w or Walk(plan, ctx)
            _candidate(w, candidate, k, label, candidate_id, repeats, continuation)
        if type(continuation) is list:
            if context_calls is not None:
                assert w is not None  # the context's calls are kept in it
                w.context_calls = context_calls
                w.calls, w.answered = {}, None  # the branch's own
            elif w is not None and w.calls is not None:
                w.calls = w.answered = None
            _, w = walk_messages(w, plan, ctx, continuation, k)
            if w is not None and w.calls is not None and plan.unanswered_warns:
                unanswered(w, k, pending)
            branches += 1
    if w is not None:
        w.calls, w.answered = context_calls, context_answered
        w.context_calls = None
    if not chosen:
        w = w or Walk(plan, ctx)
        w.report("F3.chosen", None)
    if not rejected:
        w = w or Walk(plan, ctx)
        w.report("F3.rejected", None)
    return branches, w


def _candidate(
    w: Walk,
    candidate: dict[str, Any],
    k: int,
    label: object,
    candidate_id: object,
    repeats: int | None,
    continuation: object,
) -> None:
    """F4-F6 and D4 for candidate `k`."""
    loc = ("candidates", k, -1)
    if not candidate.keys() <= CANDIDATE_KEYS:
        for key in candidate:
            if key not in CANDIDATE_KEYS:
                w.report("F4.key", loc, short(key))
    if label == "chosen" or label == "rejected":
        pass
    elif label is ABSENT:
        w.report("F4.label", loc)
    elif type(label) is not str:
        w.report("F4.label_type", loc, json_type_name(label))
    else:
        w.report("F5.label", loc, short(label))
    if candidate_id is not ABSENT:
        if type(candidate_id) is not str:
            w.report("F6.type", loc, json_type_name(candidate_id))
        elif repeats is not None:
            w.report("F6.repeat", loc, short(candidate_id), f"candidates[{repeats}]")
    if continuation is ABSENT:
        w.report("F4.messages", loc)
    elif type(continuation) is not list:
        w.report("F4.messages_type", loc, json_type_name(continuation))
    elif not continuation:
        w.report("D4.candidate", loc)


def reference(
    w: Walk | None, plan: Plan, ctx: RecordContext, record: dict[str, Any]
) -> Walk | None:
    """F7, and the warnings F8-F10 on the grading an rft `reference` declares; return the
    walk (made if it was needed)."""
    value = record.get("reference", ABSENT)
    if value is ABSENT:
        w = w or Walk(plan, ctx)
        w.report("F7.missing", None)
    elif type(value) is not dict:
        w = w or Walk(plan, ctx)
        w.report("F7.type", None, json_type_name(value))
    elif not _GRADING_CODES.isdisjoint(plan.keep):
        found = _grading(value)
        if found:  # the walk is made only for a finding
            w = w or Walk(plan, ctx)
            for key, *args in found:
                w.report(key, None, *args)
    return w


def _grading(reference: dict[str, Any]) -> list[tuple[str, ...]]:
    """F8-F10: (finding key, its arguments) for each problem of the reference's grading."""
    found: list[tuple[str, ...]] = []
    if reference.keys().isdisjoint(REFERENCE_KEYS):
        found.append(("F8.none",))
    grading = reference.get("grading", ABSENT)
    if grading is ABSENT:
        return found
    if type(grading) is not dict:
        found.append(("F9.type", json_type_name(grading)))
        return found
    kind = grading.get("type")
    if type(kind) is not str:
        found.append(("F9.kind",))
    elif kind not in GRADING_TYPES:
        found.append(("F9.unknown", short(kind)))
    elif kind == "numeric":
        if not is_number(reference.get("answer")):
            found.append(("F10.numeric",))
        tolerance = grading.get("tolerance")
        if not is_number(tolerance) or tolerance < 0:
            found.append(("F10.tolerance",))
    elif kind == "any_of":
        answers = reference.get("answers")
        if type(answers) is not list or not answers:
            found.append(("F10.any_of",))
    elif kind == "rubric":
        rubric = reference.get("rubric")
        if type(rubric) is not dict:
            found.append(("F10.rubric",))
        else:
            for key in RUBRIC_LISTS:
                value = rubric.get(key, ABSENT)
                if value is not ABSENT and (
                    type(value) is not list or any(type(item) is not str for item in value)
                ):
                    found.append(("F10.rubric_list", key))
    elif "answer" not in reference and "answers" not in reference:
        found.append(("F10.exact",))
    return found
