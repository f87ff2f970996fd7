"""Every finding of the record rules (spec checklist D, E, F), declared once.

A finding is keyed `CODE.name` (one checklist code may have several messages) and carries
its severity, the objectives it applies to and its message template: `{where}` is the path
of the offending value (``messages[2].content[0]``), `{0}`, `{1}` ... the walker's arguments.
The walker reports keys; `kept` decides from this table alone which reports become problems.

A new rule is one row here with its check: `at` (RECORD, MESSAGE or PART) and `check(node)`,
which gets every object of that kind and returns the template's arguments when the rule is
broken (None when not). The walker (build and verify alike) calls it on every such node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, PART_TYPES, ROLES

ERROR: Final = "error"
WARNING: Final = "warning"

ALL: Final = frozenset(OBJECTIVES)
SFT: Final = frozenset({"sft"})
PREFERENCE: Final = frozenset({"preference"})
RFT: Final = frozenset({"rft"})
CPT: Final = frozenset({"cpt"})
DIALOGUE: Final = ALL - CPT

_ROLE_LIST: Final = ", ".join(sorted(ROLES))
_PART_LIST: Final = ", ".join(sorted(PART_TYPES))


# Where the walker calls a row's own check: the record, each message, each content part
# (messages of the record and of every preference candidate), each an object.
RECORD: Final = "record"
MESSAGE: Final = "message"
PART: Final = "part"
# A row's check: the node -> the template's arguments when the rule is broken, else None.
Check = Callable[[dict[str, Any]], tuple[object, ...] | None]


@dataclass(frozen=True, slots=True)
class Finding:
    code: str  # the checklist id: D3, E5, F11 ...
    severity: str  # ERROR | WARNING
    objectives: frozenset[str]
    template: str
    at: str = ""  # RECORD | MESSAGE | PART for a row with its own check; "" for the walk's
    check: Check | None = None


def _table(*rows: tuple[Any, ...]) -> dict[str, Finding]:
    table: dict[str, Finding] = {}
    for key, severity, objectives, template, *declared in rows:
        code, _, name = key.partition(".")
        assert name and key not in table, key
        assert not declared or (len(declared) == 2 and declared[0] in (RECORD, MESSAGE, PART))
        table[key] = Finding(code, severity, objectives, template, *declared)
    return table


E, W = ERROR, WARNING
FINDINGS: Final = _table(
    # D: records, messages, content parts
    ("D1.root", E, ALL, "record: root must be an object, got {0}"),
    ("D3.missing", E, ALL, "messages: missing"),
    ("D3.type", E, ALL, "messages: must be an array, got {0}"),
    ("D4.empty", E, ALL - PREFERENCE, "messages: must not be empty"),
    ("D4.context", W, PREFERENCE, "messages: the shared context is empty"),
    ("D4.candidate", W, PREFERENCE, "{where}.messages: the continuation is empty"),
    ("D5.id", E, ALL, "id: must be a string, got {0}"),
    ("D5.toolset_id", E, ALL, "toolset_id: must be a string, got {0}"),
    ("D5.metadata", E, ALL, "metadata: must be an object, got {0}"),
    ("D6.owner", E, ALL, "{0}: only allowed in {1} records, not in {2}"),
    ("D6.key", E, ALL, "{0}: unknown record key"),
    ("D8.toolset", E, ALL, "toolset_id: unknown toolset {0}"),
    ("D9.type", E, ALL, "{where}: message must be an object, got {0}"),
    ("D9.key", E, ALL, "{where}: unknown message key {0}"),
    ("D9.role", E, ALL, "{where}: missing 'role'"),
    ("D9.content", E, ALL, "{where}: missing 'content'"),
    ("D10.role", E, ALL, "{where}.role: {0} is not one of " + _ROLE_LIST),
    ("D11.type", E, ALL, "{where}: must be an array of content parts, got {0}"),
    ("D12.empty", W, ALL, "{where}: content array is empty"),
    ("D13.name", E, ALL, "{where}.name: must be a string, got {0}"),
    ("D13.annotations", E, ALL, "{where}.annotations: must be an object, got {0}"),
    ("D14.type", E, ALL, "{where}: content part must be an object, got {0}"),
    ("D14.missing", E, ALL, "{where}: missing 'type'"),
    ("D14.unknown", E, ALL, "{where}: unknown part type {0} (known: " + _PART_LIST + ")"),
    ("D15.missing", E, ALL, "{where}: {0} part needs {1}"),
    ("D15.type", E, ALL, "{where}.{0}: must be {1}, got {2}"),
    ("D16.key", E, ALL, "{where}: key {0} is not allowed in a {1} part"),
    ("D17.key", E, ALL, "{where}.ref: unknown key {0} (allowed: asset_id, uri)"),
    ("D17.none", E, ALL, "{where}.ref: needs 'asset_id' or 'uri'"),
    ("D17.uri", E, ALL, "{where}.ref.uri: must be a string, got {0}"),
    ("D17.asset_id", E, ALL, "{where}.ref.asset_id: must be a string, got {0}"),
    ("D17.both", W, ALL, "{where}.ref: has both 'asset_id' and 'uri'"),
    ("D18.bytes", E, ALL, "{where}.bytes: must be a non-negative integer, got {0}"),
    ("D18.string", E, ALL, "{where}.{0}: must be a string, got {1}"),
    ("D19.asset", E, ALL, "{where}.ref.asset_id: {0} is not in the asset index"),
    (
        "D20.no_index",
        W,
        ALL,
        "{where}.ref.asset_id: {0} cannot be resolved: no asset index is available",
    ),
    ("D21.document", W, DIALOGUE, "{where}.role: 'document' role in a {0} record"),
    # E: tool-use consistency
    ("E2.tool", E, ALL, "{where}.name: {0} is not a tool of toolset {1}"),
    ("E3.no_toolset", W, ALL, "{where}: tool_call {0} but no toolset applies"),
    ("E4.repeat", E, ALL, "{where}.call_id: {0} repeats the call at {1}"),
    ("E5.unknown", E, ALL, "{where}.call_id: {0} does not answer any earlier tool_call"),
    ("E6.name", E, ALL, "{where}.name: {0} differs from {1}, the name of call {2} at {3}"),
    (
        "E7.unanswered",
        W,
        ALL,
        "{where}: tool_call {0} ({1}) has no tool_result later in the record{2}",
    ),
    ("E8.role", W, ALL, "{where}: {0} part in a {1} message (expected {2})"),
    ("E9.required", W, ALL, "{where}.arguments: missing required argument(s) {0}"),
    ("E9.type", W, ALL, "{where}.arguments: argument {0} is {1}, input_schema expects {2}"),
    ("E9.undeclared", W, ALL, "{where}.arguments: argument {0} is not declared in input_schema"),
    ("E10.object", W, ALL, "{where}.{0}: is {1}, not an object"),
    # F: objective rules
    ("F1.assistant", E, SFT, "messages: an sft record needs at least one assistant message"),
    ("F2.missing", E, PREFERENCE, "candidates: missing (a preference record needs at least two)"),
    ("F2.type", E, PREFERENCE, "candidates: must be an array, got {0}"),
    ("F2.count", E, PREFERENCE, "candidates: needs at least 2 entries, found {0}"),
    ("F3.chosen", E, PREFERENCE, "candidates: no candidate has label 'chosen'"),
    ("F3.rejected", E, PREFERENCE, "candidates: no candidate has label 'rejected'"),
    ("F4.type", E, PREFERENCE, "{where}: must be an object, got {0}"),
    ("F4.key", E, PREFERENCE, "{where}: unknown candidate key {0}"),
    ("F4.label", E, PREFERENCE, "{where}: missing 'label'"),
    ("F4.label_type", E, PREFERENCE, "{where}.label: must be a string, got {0}"),
    ("F4.messages", E, PREFERENCE, "{where}: missing 'messages'"),
    ("F4.messages_type", E, PREFERENCE, "{where}.messages: must be an array, got {0}"),
    ("F5.label", E, PREFERENCE, "{where}.label: {0} is neither 'chosen' nor 'rejected'"),
    ("F6.type", E, PREFERENCE, "{where}.candidate_id: must be a string, got {0}"),
    ("F6.repeat", E, PREFERENCE, "{where}.candidate_id: {0} repeats {1}"),
    ("F7.missing", E, RFT, "reference: missing (an rft record needs a reference object)"),
    ("F7.type", E, RFT, "reference: must be an object, got {0}"),
    ("F8.none", W, RFT, "reference: has none of grading, answer, answers, rubric"),
    ("F9.type", W, RFT, "reference.grading: must be an object, got {0}"),
    ("F9.kind", W, RFT, "reference.grading.type: must be a string"),
    ("F9.unknown", W, RFT, "reference.grading.type: unknown grading type {0}"),
    ("F10.numeric", W, RFT, "reference.answer: numeric grading needs a numeric answer"),
    (
        "F10.tolerance",
        W,
        RFT,
        "reference.grading.tolerance: numeric grading needs a number >= 0",
    ),
    ("F10.any_of", W, RFT, "reference.answers: any_of grading needs a non-empty array"),
    ("F10.rubric", W, RFT, "reference.rubric: rubric grading needs a rubric object"),
    ("F10.rubric_list", W, RFT, "reference.rubric.{0}: must be an array of strings"),
    ("F10.exact", W, RFT, "reference: exact_match grading needs 'answer' or 'answers'"),
    ("F11.role", E, CPT, "{where}.role: {0} is not allowed in a cpt record"),
    ("F12.document", W, CPT, "messages: a cpt record without any document message"),
    ("F13.tool", E, CPT, "{where}: {0} part is not allowed in a cpt record"),
)
del E, W


def kept(objectives: frozenset[str], warnings: bool) -> frozenset[str]:
    """Keys of the findings that apply, with their codes (so `"E9" in kept` asks whether any
    E9 finding would be kept, to skip work whose only purpose is that finding)."""
    keys = {
        key
        for key, finding in FINDINGS.items()
        if objectives <= finding.objectives and (warnings or finding.severity == ERROR)
    }
    return frozenset(keys | {FINDINGS[key].code for key in keys})


# A content array outside a record (defaults.system): the findings every objective shares.
CONTENT_KEPT: Final = kept(ALL, True)
