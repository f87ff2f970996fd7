"""E rules: tool_call and tool_result parts against the toolset that applies (E1-E3), the calls
made earlier in the same branch (E4-E7), the message role (E8) and the tool's input_schema (E9).

E9 is a small structural check: `required` keys, the JSON Schema primitive types of declared
properties and `additionalProperties: false` (each schema read once: schemas.py). It is not
a JSON Schema validator.

A preference record's branches share its context's calls without copying them: a branch
looks them up in `Walk.context_calls`, and the context's unanswered calls are listed once
(`Pending`). Once E7 holds its cap of problems, a branch counts its unanswered context calls
from its own answers, so the record's cost is not (context calls) x (candidates).
"""

from __future__ import annotations

from typing import Any, Final

from jsonl_assets.core.rules.schemas import SchemaIndex, ToolSchema
from jsonl_assets.core.rules.vocabulary import ABSENT, json_type_name, short
from jsonl_assets.core.rules.walk_state import Loc, Walk, render

BROKEN: Final[Any] = object()  # the record's toolset_id is not a string: no toolset, no E3


class Tools:
    """The toolset resolved for a record (E1)."""

    __slots__ = ("names", "schemas", "toolset_id", "unresolved")

    schemas: SchemaIndex | None  # the package's schemas, when this toolset has any

    def __init__(self, w: Walk) -> None:
        ref = w.toolset
        if ref is ABSENT:
            ref = w.ctx.inherited_toolset_id
        self.toolset_id: str | None = ref if type(ref) is str else None
        self.unresolved = ref is None  # nothing names a toolset at all (E3)
        self.names = w.ctx.toolsets.get(ref) if self.toolset_id is not None else None
        schemas = w.ctx.schema_index
        self.schemas = schemas if schemas is not None and self.toolset_id in schemas else None


def tool_part(w: Walk, part: dict[str, Any], kind: str, loc: Loc, role: str | None) -> None:
    """A tool_call or tool_result part at `loc` in a message of `role` (None: unknown)."""
    if w.plan.tool_parts_banned:
        w.report("F13.tool", loc, repr(kind))
    name = part.get("name")
    call_id = part.get("call_id")
    # require() reports exactly when the value is not a string: called only then.
    named = type(name) is str or w.require(part, "name", str, kind, loc)
    identified = type(call_id) is str or w.require(part, "call_id", str, kind, loc)
    value_key = "arguments" if kind == "tool_call" else "result"
    value = part.get(value_key, ABSENT)
    if type(value) is not dict:
        if value is ABSENT:
            w.report("D15.missing", loc, repr(kind), repr(value_key))
        else:
            w.report("E10.object", loc, value_key, json_type_name(value))
    if role is not None and role != ("assistant" if kind == "tool_call" else "tool"):
        expected_role = "assistant" if kind == "tool_call" else "tool"
        w.report("E8.role", loc, kind, repr(role), expected_role)
    if not (w.in_record and named and identified):
        return
    calls = w.calls
    if kind == "tool_call":
        if calls is None:
            calls = w.calls = {}
        first = calls.get(call_id)
        if first is None and w.context_calls is not None:
            first = w.context_calls.get(call_id)
        if first is not None:
            w.report("E4.repeat", loc, short(call_id), render(first[1]))
        else:
            calls[call_id] = (name, loc)
        tools = w.tools
        if tools is None:
            tools = w.tools = Tools(w)
        if tools.names is None:
            if tools.unresolved:
                w.report("E3.no_toolset", loc, short(name))
        elif name not in tools.names:
            w.report("E2.tool", loc, short(name), short(tools.toolset_id))
        elif tools.schemas is not None and "E9" in w.keep:
            assert tools.toolset_id is not None  # schemas are looked up by it
            schema = tools.schemas.tool(tools.toolset_id, name)
            if schema is not None:
                _schema(w, part.get("arguments"), schema, loc)
        return
    call = calls.get(call_id) if calls is not None else None
    if call is None and w.context_calls is not None:
        call = w.context_calls.get(call_id)
    if call is None:
        w.report("E5.unknown", loc, short(call_id))
        return
    if call[0] != name:
        w.report("E6.name", loc, short(name), short(call[0]), short(call_id), render(call[1]))
    if w.answered is None:
        w.answered = {call_id}
    else:
        w.answered.add(call_id)


_NONE: Final[frozenset[str]] = frozenset()


class Pending:
    """The calls a preference record's context leaves unanswered (E7 for each branch):
    `calls` as (call_id, name, location) in call order, `index` their positions."""

    __slots__ = ("calls", "index")

    def __init__(self, calls: dict[str, tuple[str, Loc]], answered: set[str] | None) -> None:
        done = answered or _NONE
        self.calls = [(c, name, loc) for c, (name, loc) in calls.items() if c not in done]
        self.index = {c: i for i, (c, _, _) in enumerate(self.calls)}


def unanswered(w: Walk, candidate: int, pending: Pending | None = None) -> None:
    """E7: calls of the branch (of candidate `candidate`; -1: the record) left unanswered:
    first the context's `pending` calls the branch does not answer, then its own calls."""
    answered = w.answered or _NONE
    branch = f" (in the branch of candidates[{candidate}])" if candidate >= 0 else ""
    if pending is not None and pending.calls:
        calls = pending.calls
        i = 0
        while i < len(calls) and not w.full("E7.unanswered"):
            call_id, name, loc = calls[i]
            i += 1
            if call_id not in answered:
                w.report("E7.unanswered", loc, short(call_id), short(name), branch)
        if i < len(calls):  # the rest are counted: those after i the branch leaves open
            index = pending.index
            closed = sum(1 for call_id in answered if index.get(call_id, -1) >= i)
            w.omit("E7.unanswered", len(calls) - i - closed)
    own = w.calls
    if own is None:
        return
    for call_id, (name, loc) in own.items():
        if call_id not in answered:
            w.report("E7.unanswered", loc, short(call_id), short(name), branch)


def _schema(w: Walk, arguments: object, schema: ToolSchema, loc: Loc) -> None:
    """E9: `arguments` against `input_schema`; non-object arguments are E10's business.
    Costs O(len(arguments)), whatever the size of the schema."""
    if type(arguments) is not dict:
        return
    shown, count = schema.missing(arguments)
    if count:
        listed = ", ".join(map(short, shown))
        if count > len(shown):
            listed += f" and {count - len(shown)} more"
        w.report("E9.required", loc, listed)
    props = schema.props
    closed = schema.closed
    for key, value in arguments.items():
        sub = props.get(key)
        if type(sub) is dict:
            expected = schema.expected(key, sub)
            if expected is not None and not expected.matches(value):
                w.report("E9.type", loc, short(key), json_type_name(value), expected.text)
        elif sub is None and closed:
            w.report("E9.undeclared", loc, short(key))
