"""The state of one record walk: the problems found so far and the tool calls of the branch.

Paths are kept as `(prefix, i, j)` and formatted only when a kept finding is reported, so a
valid record costs no string work at all. A walk holds at most `PROBLEMS_PER_RULE` problems
of each rule and only counts the rest (`Problems.omitted`), so what one record costs is
bounded by its size, however many findings it makes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from jsonl_assets.core.rules.context import RecordContext
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES
from jsonl_assets.core.rules.table import (
    CONTENT_KEPT,
    FINDINGS,
    MESSAGE,
    PART,
    RECORD,
    Check,
    kept,
)
from jsonl_assets.core.rules.vocabulary import ABSENT, JSON_NAMES, RECORD_KEYS, json_type_name

# A location: `prefix` alone (i, j < 0), `prefix[i]`, `prefix[i].content` (j == CONTENT),
# `prefix[i].content[j]`, or `prefix[j]` (i < 0: a bare content array such as defaults.system).
# An int prefix k stands for `candidates[k].messages`.
Loc = tuple[str | int, int, int]
CONTENT: Final = -2
# The roles a message walk reports (walk_messages).
ASSISTANT: Final = 1
DOCUMENT: Final = 2
# The problems of one rule a walk holds (and formats); past it, they are only counted. Not
# below verify's cap per (rule, file), so verify lists what it listed before.
PROBLEMS_PER_RULE: Final = 20


@dataclass(frozen=True, slots=True)
class Problem:
    """One rule a record breaks. `rule` is the checklist id; the message names the path."""

    rule: str
    severity: str  # "error" | "warning"
    message: str


class Problems(list[Problem]):
    """The problems of one walk, in walk order: the first `PROBLEMS_PER_RULE` of each rule.
    `omitted` counts the others, per (rule, severity); they are neither built nor held.
    Problems are added with `add` (which keeps the count per rule)."""

    __slots__ = ("_held", "omitted")

    def __init__(self) -> None:
        super().__init__()
        self._held: dict[str, int] | None = None  # per rule; counted once the list is long
        self.omitted: dict[tuple[str, str], int] = {}

    def full(self, rule: str) -> bool:
        """Whether `rule` holds `PROBLEMS_PER_RULE` problems (no rule can, in a shorter list)."""
        if len(self) < PROBLEMS_PER_RULE:
            return False
        held = self._held
        if held is None:
            held = self._held = {}
            for problem in self:
                held[problem.rule] = held.get(problem.rule, 0) + 1
        return held.get(rule, 0) >= PROBLEMS_PER_RULE

    def add(self, problem: Problem) -> None:
        self.append(problem)
        held = self._held
        if held is not None:
            held[problem.rule] = held.get(problem.rule, 0) + 1

    def omit(self, rule: str, severity: str, count: int = 1) -> None:
        """Count `count` problems of `rule` that are not held."""
        if count > 0:
            key = (rule, severity)
            self.omitted[key] = self.omitted.get(key, 0) + count


@dataclass(frozen=True, slots=True)
class Plan:
    """What one kind of walk judges: `keep` (from the table) and the questions the walk asks
    of it, answered once here rather than per record."""

    keep: frozenset[str]
    objective: str  # "" for a content array outside a record
    record_keys: frozenset[str]
    needs_assistant: bool  # F1 (sft)
    needs_document: bool  # F12 (cpt)
    reference: bool  # F7 (rft)
    candidates: bool  # F2 (preference)
    dialogue_only: bool  # F11 (cpt): no assistant or tool turns
    document_warns: bool  # D21: a document turn in a dialogue record
    tool_parts_banned: bool  # F13 (cpt)
    unanswered_warns: bool  # E7 (a warning: kept with warnings only)
    # The kept rows with their own check (table.py), by where the walk calls them.
    record_checks: tuple[tuple[str, Check], ...] = ()
    message_checks: tuple[tuple[str, Check], ...] = ()
    part_checks: tuple[tuple[str, Check], ...] = ()
    declared: bool = False  # any of the three


def _checks(keep: frozenset[str], at: str) -> tuple[tuple[str, Check], ...]:
    return tuple(
        (key, finding.check)
        for key, finding in FINDINGS.items()
        if finding.at == at and finding.check is not None and key in keep
    )


def _plan(keep: frozenset[str], objective: str) -> Plan:
    return Plan(
        keep,
        objective,
        RECORD_KEYS.get(objective, frozenset()),
        "F1" in keep,
        "F12" in keep,
        "F7" in keep,
        "F2" in keep,
        "F11" in keep,
        "D21" in keep,
        "F13" in keep,
        "E7" in keep,
        _checks(keep, RECORD),
        _checks(keep, MESSAGE),
        _checks(keep, PART),
        any(f.check is not None and key in keep for key, f in FINDINGS.items()),
    )


def plans(warnings: bool) -> dict[str, Plan]:
    """A Plan per objective, from the table as it is now: errors only, or with warnings."""
    return {o: _plan(kept(frozenset({o}), warnings), o) for o in OBJECTIVES}


ERRORS_PLANS: Final = plans(False)
PROBLEMS_PLANS: Final = plans(True)
CONTENT_PLAN: Final = _plan(CONTENT_KEPT, "")


def render(loc: Loc) -> str:
    prefix, i, j = loc
    if type(prefix) is int:
        prefix = f"candidates[{prefix}].messages"
    if i < 0:
        return prefix if j < 0 else f"{prefix}[{j}]"
    if j == -1:
        return f"{prefix}[{i}]"
    if j == CONTENT:
        return f"{prefix}[{i}].content"
    return f"{prefix}[{i}].content[{j}]"


class Walk:
    """One walk: `plan.keep` (from the table) decides which reports become problems.

    `toolset` is the record's own `toolset_id` (ABSENT: inherited, BROKEN: not a string);
    `tools` is resolved at the first tool_call. `calls` maps call_id -> (name, location) and
    `answered` holds the answered call_ids of the current branch; both are made on first use.
    `in_record` is False for a bare content array, where tool use is not judged. In a
    candidate's branch, `context_calls` are the calls of the shared context (read, never
    copied) and `calls`/`answered` only the branch's own.
    """

    # No __slots__: the tool state defaults to these class attributes, so that a walk over a
    # record without tool use sets four attributes and no more (the walk is made per record).
    in_record: bool = True
    toolset: Any = ABSENT  # the record names no toolset: it inherits one
    tools: Any = None
    calls: dict[str, tuple[str, Loc]] | None = None
    answered: set[str] | None = None
    context_calls: dict[str, tuple[str, Loc]] | None = None

    def __init__(self, plan: Plan, ctx: RecordContext) -> None:
        self.problems = Problems()
        self.plan = plan
        self.keep = plan.keep
        self.ctx = ctx

    def report(self, key: str, loc: Loc | None, *args: object) -> None:
        if key in self.keep:
            finding = FINDINGS[key]
            problems = self.problems
            if len(problems) >= PROBLEMS_PER_RULE and problems.full(finding.code):
                problems.omit(finding.code, finding.severity)
                return
            where = "" if loc is None else render(loc)
            message = finding.template.format(*args, where=where)
            problems.add(Problem(finding.code, finding.severity, message))

    def full(self, key: str) -> bool:
        """Whether a report of `key` would only be counted: its rule holds its cap (False
        for a key the plan does not keep)."""
        return key in self.keep and self.problems.full(FINDINGS[key].code)

    def omit(self, key: str, count: int) -> None:
        """Count `count` reports of `key` without making them (its rule holds its cap)."""
        if key in self.keep:
            finding = FINDINGS[key]
            self.problems.omit(finding.code, finding.severity, count)

    def require(self, part: dict[str, Any], key: str, kind: type, of: str, loc: Loc) -> bool:
        """D15: `part[key]` is present and of type `kind`; `of` names the part type."""
        value = part.get(key, ABSENT)
        if value is ABSENT:
            self.report("D15.missing", loc, repr(of), repr(key))
            return False
        if type(value) is not kind:
            expected = JSON_NAMES.get(kind, kind.__name__)
            self.report("D15.type", loc, key, expected, json_type_name(value))
            return False
        return True
