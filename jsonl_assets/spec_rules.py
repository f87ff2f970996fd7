"""Record rules of LLM Training Data v1: checklist sections D, E and F (spec section 12).

`record_errors` runs for every record of a build, twice, so it has a fast path: `_fast`
walks the record once with type checks, frozenset membership and length tests, allocates
nothing for a plain valid record but the empty result list (a fresh one, so callers may
extend it), and never formats a message. Only when it cannot vouch
for the record does the detailed checker `_collect` run, which walks the record again and
names every problem with its path (``messages[2].content[0]: unknown part type 'img'``).
The fast path is conservative: it may send a valid record to the detailed checker (which
then finds nothing), but it never passes a record the detailed checker would fault; the
property tests hold the two to that.

Rule ids are the checklist's (D3, E5, F11 ...). Implementation choices where the spec is
silent, beyond the checklist's own:

* D4: an empty `messages` array is an error for sft, rft and cpt; for preference (where
  `messages` is the shared context) it is a warning (spec section 5.1). An empty
  `candidates[k].messages` is an error (a candidate with no continuation).
* D17: a media `ref` accepts only `asset_id` and `uri` (strict schemas); other keys are
  errors. Both present at once is a warning.
* E-rules in preference records: the context and each candidate form one branch (context
  followed by that candidate), so `call_id` uniqueness (E4), answering (E5/E6) and the
  unanswered-call warning (E7) are judged per branch; two candidates may reuse a call_id.
* E2 is judged only when a toolset resolves to one that exists; a reference to a missing
  toolset is reported once where it is made (D8 for a record, C5/A14 in the manifest).
* E9 is a small structural check of `arguments` against the tool's `input_schema`:
  `required` keys present, declared property types for the JSON Schema primitive types,
  and `additionalProperties: false`. It is not a JSON Schema validator.
* F10 also warns when `exact_match` grading has neither `answer` nor `answers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from jsonl_assets.spec_vocabulary import MEDIA_PART_TYPES, OBJECTIVES, PART_TYPES, ROLES

ERROR: Final = "error"
WARNING: Final = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One rule a record breaks. `rule` is the checklist id; the message names the path."""

    rule: str
    severity: str  # "error" | "warning"
    message: str


@dataclass(frozen=True, slots=True)
class RecordContext:
    """What the package around a record tells the record rules.

    `toolsets` maps toolset id -> tool names; `tool_schemas` maps toolset id -> tool name ->
    input_schema (for E9). `asset_ids` is None when the package declares no asset index.
    """

    toolsets: Mapping[str, frozenset[str]] = field(default_factory=dict)
    file_toolset_id: str | None = None
    default_toolset_id: str | None = None
    asset_ids: frozenset[str] | None = None
    tool_schemas: Mapping[str, Mapping[str, dict[str, Any]]] | None = None

    @property
    def inherited_toolset_id(self) -> str | None:
        """The toolset of a record without its own `toolset_id` (spec section 9.2)."""
        if self.file_toolset_id is not None:
            return self.file_toolset_id
        return self.default_toolset_id


# --- vocabularies -------------------------------------------------------------------------

_BASE_RECORD_KEYS: Final = frozenset({"id", "messages", "toolset_id", "metadata"})
_RECORD_KEYS: Final = {
    "sft": _BASE_RECORD_KEYS,
    "cpt": _BASE_RECORD_KEYS,
    "preference": _BASE_RECORD_KEYS | {"candidates"},
    "rft": _BASE_RECORD_KEYS | {"reference"},
}
assert set(_RECORD_KEYS) == set(OBJECTIVES)
_OBJECTIVE_ONLY_KEYS: Final = {"candidates": "preference", "reference": "rft"}
_MESSAGE_KEYS: Final = frozenset({"role", "content", "name", "annotations"})
_CANDIDATE_KEYS: Final = frozenset({"candidate_id", "label", "messages"})
_MEDIA_KEYS: Final = frozenset({"type", "ref", "mime_type", "sha256", "bytes"})
_REF_KEYS: Final = frozenset({"asset_id", "uri"})
_PART_KEYS: Final = {
    "text": frozenset({"type", "text"}),
    "reasoning": frozenset({"type", "text"}),
    "json": frozenset({"type", "data"}),
    "tool_call": frozenset({"type", "name", "call_id", "arguments"}),
    "tool_result": frozenset({"type", "name", "call_id", "result"}),
    **dict.fromkeys(MEDIA_PART_TYPES, _MEDIA_KEYS),
}
assert set(_PART_KEYS) == set(PART_TYPES)
_ROLE_LIST: Final = ", ".join(sorted(ROLES))
_PART_LIST: Final = ", ".join(sorted(PART_TYPES))
_REFERENCE_KEYS: Final = ("grading", "answer", "answers", "rubric")
GRADING_TYPES: Final = frozenset({"exact_match", "numeric", "any_of", "rubric"})
_RUBRIC_LISTS: Final = ("must_have", "nice_to_have", "must_not_have")

_ABSENT: Final[Any] = object()
_NO_DICT: Final[dict[str, Any]] = {}  # default for optional object lookups; never mutated

# Flags of the fast walk.
_F_ASSISTANT: Final = 1
_F_DOCUMENT: Final = 2
_F_TOOL: Final = 4
_F_WARN: Final = 8


# --- public API ---------------------------------------------------------------------------


def record_errors(record: object, objective: str, ctx: RecordContext) -> list[Problem]:
    """The error-severity problems of one record (fast path for valid records)."""
    if _fast(record, objective, ctx):
        return []
    return _collect(record, objective, ctx, warn=False)


def record_problems(record: object, objective: str, ctx: RecordContext) -> list[Problem]:
    """Errors and warnings of one record."""
    if _fast(record, objective, ctx) == 1:
        return []
    return _collect(record, objective, ctx, warn=True)


def content_problems(content: object, where: str, ctx: RecordContext) -> list[Problem]:
    """D11/D12 and D14-D20 for a content array outside a record (e.g. `defaults.system`).

    Tool-use consistency (E rules) is not judged: there is no conversation around it.
    """
    out = _Out(warn=True)
    if type(content) is not list:
        out.error("D11", f"{where}: must be an array of content parts, got {_jtype(content)}")
    else:
        if not content:
            out.warning("D12", f"{where}: content array is empty")
        _parts(out, content, where, ctx, None, False, None, None)
    return out.problems


def schema_issues(arguments: object, schema: object) -> list[str]:
    """Structural differences between tool-call `arguments` and an `input_schema` (E9).

    Checks `required`, the primitive `type` of declared properties and
    `additionalProperties: false`. Non-object arguments are E10's business and yield [].
    """
    if type(arguments) is not dict or type(schema) is not dict:
        return []
    issues: list[str] = []
    required = schema.get("required")
    if type(required) is list:
        missing = [key for key in required if type(key) is str and key not in arguments]
        if missing:
            issues.append("missing required argument(s) " + ", ".join(map(repr, missing)))
    props = schema.get("properties")
    if type(props) is not dict:
        props = _NO_DICT
    closed = schema.get("additionalProperties") is False
    for key, value in arguments.items():
        sub = props.get(key)
        if type(sub) is dict:
            expected = sub.get("type")
            if expected is not None and not _type_matches(value, expected):
                issues.append(
                    f"argument {key!r} is {_jtype(value)}, input_schema expects {expected}"
                )
        elif sub is None and closed:
            issues.append(f"argument {key!r} is not declared in input_schema")
    return issues


def reference_issues(reference: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Warning-level (rule, message) pairs for an rft `reference` object (F8-F10)."""
    issues: list[tuple[str, str]] = []
    if not any(key in reference for key in _REFERENCE_KEYS):
        issues.append(("F8", "reference: has none of grading, answer, answers, rubric"))
    grading = reference.get("grading", _ABSENT)
    if grading is _ABSENT:
        return issues
    if type(grading) is not dict:
        issues.append(("F9", f"reference.grading: must be an object, got {_jtype(grading)}"))
        return issues
    kind = grading.get("type")
    if type(kind) is not str:
        issues.append(("F9", "reference.grading.type: must be a string"))
    elif kind not in GRADING_TYPES:
        issues.append(("F9", f"reference.grading.type: unknown grading type {_short(kind)}"))
    elif kind == "numeric":
        if not _is_number(reference.get("answer")):
            issues.append(("F10", "reference.answer: numeric grading needs a numeric answer"))
        tolerance = grading.get("tolerance")
        if not _is_number(tolerance) or tolerance < 0:
            issues.append(
                ("F10", "reference.grading.tolerance: numeric grading needs a number >= 0")
            )
    elif kind == "any_of":
        answers = reference.get("answers")
        if type(answers) is not list or not answers:
            issues.append(("F10", "reference.answers: any_of grading needs a non-empty array"))
    elif kind == "rubric":
        rubric = reference.get("rubric")
        if type(rubric) is not dict:
            issues.append(("F10", "reference.rubric: rubric grading needs a rubric object"))
        else:
            for key in _RUBRIC_LISTS:
                value = rubric.get(key, _ABSENT)
                if value is not _ABSENT and (
                    type(value) is not list or any(type(item) is not str for item in value)
                ):
                    issues.append(("F10", f"reference.rubric.{key}: must be an array of strings"))
    elif "answer" not in reference and "answers" not in reference:
        issues.append(("F10", "reference: exact_match grading needs 'answer' or 'answers'"))
    return issues


# --- fast path ----------------------------------------------------------------------------


def _fast(record: object, objective: str, ctx: RecordContext) -> int:
    """0: the record may break an error rule; 1: clean; 2: no errors, may carry warnings."""
    if type(record) is not dict:
        return 0
    allowed = _RECORD_KEYS.get(objective)
    if allowed is None:
        raise ValueError(f"unknown objective {objective!r}")
    if not record.keys() <= allowed:
        return 0
    messages = record.get("messages")
    if type(messages) is not list:
        return 0
    if not messages and objective != "preference":
        return 0
    if type(record.get("id", "")) is not str:
        return 0
    if type(record.get("metadata", _NO_DICT)) is not dict:
        return 0
    toolset_id = record.get("toolset_id")
    if toolset_id is not None:
        if type(toolset_id) is not str or toolset_id not in ctx.toolsets:
            return 0
    elif "toolset_id" in record:
        return 0
    cpt = objective == "cpt"
    flags = _fast_walk(messages, cpt, toolset_id, ctx)
    if flags < 0:
        return 0
    warn = flags & _F_WARN
    if not messages:
        warn = 1  # D4: empty preference context
    if objective == "sft":
        if not flags & _F_ASSISTANT:
            return 0
        warn |= flags & _F_DOCUMENT
    elif cpt:
        if not flags & _F_DOCUMENT:
            warn = 1
    elif objective == "rft":
        reference = record.get("reference")
        if type(reference) is not dict:
            return 0
        warn |= flags & _F_DOCUMENT
        if reference_issues(reference):
            warn = 1
    else:  # preference
        if flags & _F_TOOL:
            return 0  # tool state shared by context and candidates: detailed path
        warn |= flags & _F_DOCUMENT
        candidates = record.get("candidates")
        if type(candidates) is not list or len(candidates) < 2:
            return 0
        chosen = rejected = False
        seen_ids: set[str] | None = None
        for candidate in candidates:
            if type(candidate) is not dict:
                return 0
            label = candidate.get("label")
            if label == "chosen":
                chosen = True
            elif label == "rejected":
                rejected = True
            else:
                return 0
            continuation = candidate.get("messages")
            if type(continuation) is not list or not continuation:
                return 0
            if len(candidate) != 2:
                if not candidate.keys() <= _CANDIDATE_KEYS:
                    return 0
                candidate_id = candidate.get("candidate_id")
                if type(candidate_id) is not str:
                    return 0
                if seen_ids is None:
                    seen_ids = {candidate_id}
                elif candidate_id in seen_ids:
                    return 0
                else:
                    seen_ids.add(candidate_id)
            branch = _fast_walk(continuation, False, toolset_id, ctx)
            if branch < 0:
                return 0
            warn |= branch & (_F_WARN | _F_DOCUMENT)
        if not (chosen and rejected):
            return 0
    return 2 if warn else 1


def _fast_walk(messages: list[Any], cpt: bool, toolset_id: str | None, ctx: RecordContext) -> int:
    """Walk messages; -1 if an error rule may be broken, else the _F_* flags seen."""
    flags = 0
    calls: dict[str, str] | None = None
    answered: set[str] | None = None
    resolved = False
    tools: frozenset[str] | None = None
    schemas: Mapping[str, dict[str, Any]] | None = None
    asset_ids = ctx.asset_ids
    for message in messages:
        if type(message) is not dict:
            return -1
        content = message.get("content")
        if type(content) is not list:
            return -1
        role = message.get("role")
        if len(message) != 2:
            if not message.keys() <= _MESSAGE_KEYS:
                return -1
            if type(message.get("name", "")) is not str:
                return -1
            if type(message.get("annotations", _NO_DICT)) is not dict:
                return -1
        if role == "assistant":
            if cpt:
                return -1
            flags |= _F_ASSISTANT
        elif role == "user" or role == "system":
            pass
        elif role == "tool":
            if cpt:
                return -1
        elif role == "document":
            flags |= _F_DOCUMENT
        else:
            return -1
        if not content:
            flags |= _F_WARN
            continue
        for part in content:
            if type(part) is not dict:
                return -1
            kind = part.get("type")
            if kind == "text" or kind == "reasoning":
                if len(part) != 2 or type(part.get("text")) is not str:
                    return -1
            elif kind == "json":
                if len(part) != 2 or "data" not in part:
                    return -1
            elif kind == "tool_call":
                if cpt or len(part) != 4 or "arguments" not in part:
                    return -1
                name = part.get("name")
                call_id = part.get("call_id")
                if type(name) is not str or type(call_id) is not str:
                    return -1
                if calls is None:
                    calls = {call_id: name}
                elif call_id in calls:
                    return -1
                else:
                    calls[call_id] = name
                flags |= _F_TOOL
                arguments = part["arguments"]
                if role != "assistant" or type(arguments) is not dict:
                    flags |= _F_WARN
                if not resolved:
                    resolved = True
                    tsid = toolset_id if toolset_id is not None else ctx.inherited_toolset_id
                    if tsid is None:
                        flags |= _F_WARN  # E3
                    else:
                        tools = ctx.toolsets.get(tsid)
                        if ctx.tool_schemas is not None:
                            schemas = ctx.tool_schemas.get(tsid)
                if tools is not None:
                    if name not in tools:
                        return -1
                    if schemas is not None:
                        schema = schemas.get(name)
                        if schema is not None and schema_issues(arguments, schema):
                            flags |= _F_WARN
            elif kind == "tool_result":
                if cpt or len(part) != 4 or "result" not in part:
                    return -1
                name = part.get("name")
                call_id = part.get("call_id")
                if type(name) is not str or type(call_id) is not str:
                    return -1
                if calls is None or calls.get(call_id) != name:
                    return -1
                if answered is None:
                    answered = {call_id}
                else:
                    answered.add(call_id)
                flags |= _F_TOOL
                if role != "tool" or type(part["result"]) is not dict:
                    flags |= _F_WARN
            elif type(kind) is str and kind in MEDIA_PART_TYPES:
                ref = part.get("ref")
                if type(ref) is not dict:
                    return -1
                asset_id = ref.get("asset_id")
                if len(ref) != 1:  # only {asset_id, uri} together is fine (D17 warning)
                    if len(ref) != 2 or asset_id is None or type(ref.get("uri")) is not str:
                        return -1
                    flags |= _F_WARN
                if len(part) != 2:
                    if not part.keys() <= _MEDIA_KEYS:
                        return -1
                    size = part.get("bytes", 0)
                    if type(size) is not int or size < 0:
                        return -1
                    if type(part.get("sha256", "")) is not str:
                        return -1
                    if type(part.get("mime_type", "")) is not str:
                        return -1
                if asset_id is None:
                    if type(ref.get("uri")) is not str:
                        return -1
                elif type(asset_id) is not str:
                    return -1
                elif asset_ids is None:
                    flags |= _F_WARN  # D20
                elif asset_id not in asset_ids:
                    return -1
            else:
                return -1
    if calls is not None and (answered is None or len(answered) < len(calls)):
        flags |= _F_WARN  # E7
    return flags


# --- detailed path ------------------------------------------------------------------------


class _Out:
    __slots__ = ("problems", "warn")

    def __init__(self, warn: bool) -> None:
        self.problems: list[Problem] = []
        self.warn = warn

    def error(self, rule: str, message: str) -> None:
        self.problems.append(Problem(rule, ERROR, message))

    def warning(self, rule: str, message: str) -> None:
        if self.warn:
            self.problems.append(Problem(rule, WARNING, message))


class _Tools:
    """The toolset resolved for a record (E1)."""

    __slots__ = ("names", "schemas", "toolset_id", "unresolved")

    def __init__(self, toolset_id: object, ctx: RecordContext) -> None:
        self.toolset_id = toolset_id if type(toolset_id) is str else None
        self.unresolved = toolset_id is None  # nothing names a toolset at all (E3)
        self.names = ctx.toolsets.get(self.toolset_id) if self.toolset_id is not None else None
        self.schemas = (
            ctx.tool_schemas.get(self.toolset_id)
            if ctx.tool_schemas is not None and self.toolset_id is not None
            else None
        )


class _Calls:
    """Tool calls of one conversation branch: call_id -> (name, path), and those answered."""

    __slots__ = ("answered", "calls")

    def __init__(self) -> None:
        self.calls: dict[str, tuple[str, str]] = {}
        self.answered: set[str] = set()

    def copy(self) -> _Calls:
        other = _Calls()
        other.calls = dict(self.calls)
        other.answered = set(self.answered)
        return other


def _collect(record: object, objective: str, ctx: RecordContext, warn: bool) -> list[Problem]:
    allowed = _RECORD_KEYS.get(objective)
    if allowed is None:
        raise ValueError(f"unknown objective {objective!r}")
    out = _Out(warn)
    if type(record) is not dict:
        out.error("D1", f"record: root must be an object, got {_jtype(record)}")
        return out.problems
    for key in record:
        if key not in allowed:
            owner = _OBJECTIVE_ONLY_KEYS.get(key)
            if owner is not None:
                out.error("D6", f"{key}: only allowed in {owner} records, not in {objective}")
            else:
                out.error("D6", f"{_short(key)}: unknown record key")
    if "id" in record and type(record["id"]) is not str:
        out.error("D5", f"id: must be a string, got {_jtype(record['id'])}")
    if "metadata" in record and type(record["metadata"]) is not dict:
        out.error("D5", f"metadata: must be an object, got {_jtype(record['metadata'])}")
    toolset_ref: object = ctx.inherited_toolset_id
    if "toolset_id" in record:
        toolset_ref = record["toolset_id"]
        if type(toolset_ref) is not str:
            out.error("D5", f"toolset_id: must be a string, got {_jtype(toolset_ref)}")
            toolset_ref = _ABSENT  # broken: no toolset resolves, but no E3 either
        elif toolset_ref not in ctx.toolsets:
            out.error("D8", f"toolset_id: unknown toolset {_short(toolset_ref)}")
    tools = _Tools(toolset_ref, ctx)

    calls = _Calls()
    roles: set[str] = set()
    messages = record.get("messages", _ABSENT)
    has_messages = type(messages) is list
    if messages is _ABSENT:
        out.error("D3", "messages: missing")
    elif not has_messages:
        out.error("D3", f"messages: must be an array, got {_jtype(messages)}")
    else:
        if not messages:
            if objective == "preference":
                out.warning("D4", "messages: the shared context is empty")
            else:
                out.error("D4", "messages: must not be empty")
        _messages(out, messages, "messages", objective, ctx, tools, calls, roles)

    branches = 0
    if objective == "sft":
        if has_messages and "assistant" not in roles:
            out.error("F1", "messages: an sft record needs at least one assistant message")
    elif objective == "cpt":
        if has_messages and "document" not in roles:
            out.warning("F12", "messages: a cpt record without any document message")
    elif objective == "rft":
        reference = record.get("reference", _ABSENT)
        if reference is _ABSENT:
            out.error("F7", "reference: missing (an rft record needs a reference object)")
        elif type(reference) is not dict:
            out.error("F7", f"reference: must be an object, got {_jtype(reference)}")
        elif warn:
            for rule, message in reference_issues(reference):
                out.warning(rule, message)
    else:
        branches = _candidates(out, record, ctx, tools, calls)
    if branches == 0:
        _unanswered(out, calls, "")
    return out.problems


def _candidates(
    out: _Out, record: dict[str, Any], ctx: RecordContext, tools: _Tools, calls: _Calls
) -> int:
    """F2-F6 and each candidate's messages; return how many branches were walked."""
    candidates = record.get("candidates", _ABSENT)
    if candidates is _ABSENT:
        out.error("F2", "candidates: missing (a preference record needs at least two)")
        return 0
    if type(candidates) is not list:
        out.error("F2", f"candidates: must be an array, got {_jtype(candidates)}")
        return 0
    if len(candidates) < 2:
        out.error("F2", f"candidates: needs at least 2 entries, found {len(candidates)}")
    chosen = rejected = 0
    ids: dict[str, str] = {}
    branches = 0
    for k, candidate in enumerate(candidates):
        path = f"candidates[{k}]"
        if type(candidate) is not dict:
            out.error("F4", f"{path}: must be an object, got {_jtype(candidate)}")
            continue
        for key in candidate:
            if key not in _CANDIDATE_KEYS:
                out.error("F4", f"{path}: unknown candidate key {_short(key)}")
        label = candidate.get("label", _ABSENT)
        if label is _ABSENT:
            out.error("F4", f"{path}: missing 'label'")
        elif type(label) is not str:
            out.error("F4", f"{path}.label: must be a string, got {_jtype(label)}")
        elif label == "chosen":
            chosen += 1
        elif label == "rejected":
            rejected += 1
        else:
            out.error("F5", f"{path}.label: {_short(label)} is neither 'chosen' nor 'rejected'")
        if "candidate_id" in candidate:
            candidate_id = candidate["candidate_id"]
            if type(candidate_id) is not str:
                out.error(
                    "F6", f"{path}.candidate_id: must be a string, got {_jtype(candidate_id)}"
                )
            elif candidate_id in ids:
                out.error(
                    "F6",
                    f"{path}.candidate_id: {_short(candidate_id)} repeats {ids[candidate_id]}",
                )
            else:
                ids[candidate_id] = path
        continuation = candidate.get("messages", _ABSENT)
        if continuation is _ABSENT:
            out.error("F4", f"{path}: missing 'messages'")
        elif type(continuation) is not list:
            out.error("F4", f"{path}.messages: must be an array, got {_jtype(continuation)}")
        else:
            if not continuation:
                out.error("D4", f"{path}.messages: must not be empty")
            branch = calls.copy()
            _messages(
                out, continuation, f"{path}.messages", "preference", ctx, tools, branch, set()
            )
            _unanswered(out, branch, f" (in the branch of {path})")
            branches += 1
    if not chosen:
        out.error("F3", "candidates: no candidate has label 'chosen'")
    if not rejected:
        out.error("F3", "candidates: no candidate has label 'rejected'")
    return branches


def _unanswered(out: _Out, calls: _Calls, branch: str) -> None:
    if not out.warn:
        return
    for call_id, (name, path) in calls.calls.items():
        if call_id not in calls.answered:
            out.warning(
                "E7",
                f"{path}: tool_call {_short(call_id)} ({_short(name)}) has no tool_result "
                f"later in the record{branch}",
            )


def _messages(
    out: _Out,
    messages: list[Any],
    path: str,
    objective: str,
    ctx: RecordContext,
    tools: _Tools,
    calls: _Calls,
    roles: set[str],
) -> None:
    cpt = objective == "cpt"
    for i, message in enumerate(messages):
        where = f"{path}[{i}]"
        if type(message) is not dict:
            out.error("D9", f"{where}: message must be an object, got {_jtype(message)}")
            continue
        for key in message:
            if key not in _MESSAGE_KEYS:
                out.error("D9", f"{where}: unknown message key {_short(key)}")
        role = message.get("role", _ABSENT)
        if role is _ABSENT:
            out.error("D9", f"{where}: missing 'role'")
            role = None
        elif type(role) is not str or role not in ROLES:
            out.error("D10", f"{where}.role: {_short(role)} is not one of {_ROLE_LIST}")
            role = None
        else:
            roles.add(role)
            if cpt and (role == "assistant" or role == "tool"):
                out.error("F11", f"{where}.role: {role!r} is not allowed in a cpt record")
            elif role == "document" and not cpt:
                out.warning("D21", f"{where}.role: 'document' role in a {objective} record")
        if "name" in message and type(message["name"]) is not str:
            out.error("D13", f"{where}.name: must be a string, got {_jtype(message['name'])}")
        if "annotations" in message and type(message["annotations"]) is not dict:
            out.error(
                "D13",
                f"{where}.annotations: must be an object, got {_jtype(message['annotations'])}",
            )
        content = message.get("content", _ABSENT)
        if content is _ABSENT:
            out.error("D9", f"{where}: missing 'content'")
        elif type(content) is not list:
            out.error(
                "D11", f"{where}.content: must be an array of content parts, got {_jtype(content)}"
            )
        else:
            if not content:
                out.warning("D12", f"{where}.content: content array is empty")
            _parts(out, content, f"{where}.content", ctx, role, cpt, tools, calls)


def _parts(
    out: _Out,
    parts: list[Any],
    path: str,
    ctx: RecordContext,
    role: str | None,
    cpt: bool,
    tools: _Tools | None,
    calls: _Calls | None,
) -> None:
    for j, part in enumerate(parts):
        where = f"{path}[{j}]"
        if type(part) is not dict:
            out.error("D14", f"{where}: content part must be an object, got {_jtype(part)}")
            continue
        kind = part.get("type", _ABSENT)
        if kind is _ABSENT:
            out.error("D14", f"{where}: missing 'type'")
            continue
        if type(kind) is not str or kind not in PART_TYPES:
            out.error("D14", f"{where}: unknown part type {_short(kind)} (known: {_PART_LIST})")
            continue
        allowed = _PART_KEYS[kind]
        for key in part:
            if key not in allowed:
                out.error("D16", f"{where}: key {_short(key)} is not allowed in a {kind!r} part")
        if kind == "text" or kind == "reasoning":
            _require(out, part, "text", where, str, kind)
        elif kind == "json":
            if "data" not in part:
                out.error("D15", f"{where}: 'json' part needs 'data'")
        elif kind in MEDIA_PART_TYPES:
            _media(out, part, where, ctx)
        else:
            _tool_part(out, part, kind, where, role, cpt, tools, calls)


def _require(out: _Out, part: dict[str, Any], key: str, where: str, kind: type, of: str) -> bool:
    if key not in part:
        out.error("D15", f"{where}: {of!r} part needs {key!r}")
        return False
    if type(part[key]) is not kind:
        expected = _JSON_NAMES.get(kind, kind.__name__)
        out.error("D15", f"{where}.{key}: must be {expected}, got {_jtype(part[key])}")
        return False
    return True


def _media(out: _Out, part: dict[str, Any], where: str, ctx: RecordContext) -> None:
    if _require(out, part, "ref", where, dict, str(part["type"])):
        ref = part["ref"]
        for key in ref:
            if key not in _REF_KEYS:
                out.error("D17", f"{where}.ref: unknown key {_short(key)} (allowed: asset_id, uri)")
        has_asset = "asset_id" in ref
        has_uri = "uri" in ref
        if not has_asset and not has_uri:
            out.error("D17", f"{where}.ref: needs 'asset_id' or 'uri'")
        if has_uri and type(ref["uri"]) is not str:
            out.error("D17", f"{where}.ref.uri: must be a string, got {_jtype(ref['uri'])}")
        if has_asset:
            asset_id = ref["asset_id"]
            if type(asset_id) is not str:
                out.error("D17", f"{where}.ref.asset_id: must be a string, got {_jtype(asset_id)}")
            elif ctx.asset_ids is None:
                out.warning(
                    "D20",
                    f"{where}.ref.asset_id: {_short(asset_id)} cannot be resolved: "
                    "no asset index is available",
                )
            elif asset_id not in ctx.asset_ids:
                out.error(
                    "D19", f"{where}.ref.asset_id: {_short(asset_id)} is not in the asset index"
                )
        if has_asset and has_uri:
            out.warning("D17", f"{where}.ref: has both 'asset_id' and 'uri'")
    if "bytes" in part:
        size = part["bytes"]
        if type(size) is not int or size < 0:
            out.error("D18", f"{where}.bytes: must be a non-negative integer, got {_short(size)}")
    for key in ("sha256", "mime_type"):
        if key in part and type(part[key]) is not str:
            out.error("D18", f"{where}.{key}: must be a string, got {_jtype(part[key])}")


def _tool_part(
    out: _Out,
    part: dict[str, Any],
    kind: str,
    where: str,
    role: str | None,
    cpt: bool,
    tools: _Tools | None,
    calls: _Calls | None,
) -> None:
    if cpt:
        out.error("F13", f"{where}: {kind!r} part is not allowed in a cpt record")
    named = _require(out, part, "name", where, str, kind)
    identified = _require(out, part, "call_id", where, str, kind)
    value_key = "arguments" if kind == "tool_call" else "result"
    if value_key not in part:
        out.error("D15", f"{where}: {kind!r} part needs {value_key!r}")
    elif type(part[value_key]) is not dict:
        out.warning("E10", f"{where}.{value_key}: is {_jtype(part[value_key])}, not an object")
    expected_role = "assistant" if kind == "tool_call" else "tool"
    if role is not None and role != expected_role:
        out.warning("E8", f"{where}: {kind} part in a {role!r} message (expected {expected_role})")
    if calls is None or tools is None or not (named and identified):
        return
    name: str = part["name"]
    call_id: str = part["call_id"]
    if kind == "tool_call":
        first = calls.calls.get(call_id)
        if first is not None:
            out.error("E4", f"{where}.call_id: {_short(call_id)} repeats the call at {first[1]}")
        else:
            calls.calls[call_id] = (name, where)
        if tools.names is None:
            if tools.unresolved:
                out.warning("E3", f"{where}: tool_call {_short(name)} but no toolset applies")
        elif name not in tools.names:
            out.error(
                "E2", f"{where}.name: {_short(name)} is not a tool of toolset {tools.toolset_id!r}"
            )
        elif tools.schemas is not None and out.warn:
            schema = tools.schemas.get(name)
            if schema is not None:
                for issue in schema_issues(part.get("arguments"), schema):
                    out.warning("E9", f"{where}.arguments: {issue}")
    else:
        call = calls.calls.get(call_id)
        if call is None:
            out.error(
                "E5", f"{where}.call_id: {_short(call_id)} does not answer any earlier tool_call"
            )
            return
        if call[0] != name:
            out.error(
                "E6",
                f"{where}.name: {_short(name)} differs from {_short(call[0])}, the name of "
                f"call {_short(call_id)} at {call[1]}",
            )
        calls.answered.add(call_id)


# --- helpers ------------------------------------------------------------------------------

_JSON_NAMES: Final[dict[type, str]] = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def json_type_name(value: object) -> str:
    """JSON name of a parsed value's type, for messages ("an object", "a string" ...)."""
    return _JSON_NAMES.get(type(value), type(value).__name__)


_jtype = json_type_name


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_number(value: object) -> bool:
    return type(value) is int or type(value) is float


def _type_matches(value: object, expected: object) -> bool:
    if type(expected) is list:
        return any(_type_matches(value, item) for item in expected)
    if expected == "string":
        return type(value) is str
    if expected == "integer":
        return type(value) is int or (type(value) is float and value.is_integer())
    if expected == "number":
        return _is_number(value)
    if expected == "boolean":
        return type(value) is bool
    if expected == "object":
        return type(value) is dict
    if expected == "array":
        return type(value) is list
    if expected == "null":
        return value is None
    return True  # not a JSON Schema primitive type name: not ours to judge
