"""`sharegpt`: ShareGPT / FastChat / LLaMA-Factory conversations (sft).

Input: ``{"conversations": [{"from": ..., "value": ...}, ...], "system"?, "tools"?}``.

``from`` (case-insensitive) maps to:

* ``human``, ``user`` -> user; ``gpt``, ``assistant``, ``chatgpt``, ``bing``, ``bard`` ->
  assistant; ``system`` -> system;
* ``function_call`` -> an assistant message of ``tool_call`` parts: the value is JSON
  ``{"name", "arguments", "id"?}`` (``arguments`` an object or a JSON string), or a list of
  such objects for parallel calls; a call's ``id`` is its call id, else one is synthesised
  ``call_<n>`` (1-based within the record; ``call_<n>_<k>`` when a call of the record has
  that id); a call's other keys go to the message's ``annotations.call_extras`` by call
  index (``"0"`` for a single object); invalid JSON -> ``adapter:bad_arguments_json``;
* ``observation``, ``tool`` -> a tool message whose ``tool_result`` answers the oldest
  unanswered call (``result`` = the value's JSON object, else ``{"content": value}``); no
  unanswered call -> ``adapter:unmatched_tool_result``;
* anything else -> ``adapter:unknown_role``.

The record's ``system`` string (when non-empty; whitespace-only text as given) becomes a
leading system message; ``tools`` (a list or a JSON string of one) becomes a derived toolset
(policy: ``toolsets.attach_toolset``).
Turn keys other than ``from``/``value`` go to the message's ``annotations`` (never
overwriting: ``adapter:annotation_conflict``). Field names are
options, so the role/content-keyed variant (``{"messages": [{"role", "content"}]}``) works too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson
from pydantic import Field

from jsonl_assets.core.adapters.annotations import (
    CALL_EXTRAS,
    message_annotations,
    unmapped_keys,
)
from jsonl_assets.core.adapters.base import (
    DEFAULT_TOOLSET,
    Adapted,
    AdapterError,
    AdapterOptions,
    AdaptFn,
)
from jsonl_assets.core.adapters.parts import (
    BAD_ARGUMENTS_JSON,
    UNKNOWN_ROLE,
    CallTracker,
    embedded_json,
    missing,
    optional_text,
    parse_arguments,
    record_metadata,
    require_object,
    result_value,
    tool_call_part,
    tool_name,
    tool_result_part,
    wrong_type,
)
from jsonl_assets.core.adapters.toolsets import (
    attach_toolset,
    toolset_from_declared,
)
from jsonl_assets.core.value_text import value_text

_ROLES: Final = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "system": "system",
    "function_call": "function_call",
    "observation": "observation",
    "tool": "observation",
}
# The keys of a call object a `tool_call` part holds (the others go to `call_extras`).
_CALL_KEYS: Final = frozenset({"name", "arguments", "id"})


class Options(AdapterOptions):
    conversations_field: str = Field(
        "conversations", description="Record key holding the list of turns."
    )
    role_key: str = Field("from", description="Turn key naming the speaker.")
    content_key: str = Field("value", description="Turn key holding the text.")
    system_field: str = Field("system", description="Record key of an optional system prompt.")
    tools_field: str = Field("tools", description="Record key of optional tool definitions.")
    toolset_id: str | None = Field(
        None,
        description="Toolset (declared in the config) for records that declare no tools of their own.",
    )


def _parse_calls(value: str, where: str) -> tuple[list[Any], bool]:
    """The call objects a ``function_call`` value holds, and whether it is a list of them."""
    try:
        parsed = embedded_json(value, where)
    except orjson.JSONDecodeError as exc:
        raise AdapterError(
            BAD_ARGUMENTS_JSON, f"{where} is not valid JSON ({exc}): {value_text(value, 200)}"
        ) from None
    return (parsed, True) if type(parsed) is list else ([parsed], False)


def _calls(
    value: str, where: str, tracker: CallTracker, extras: dict[str, Any]
) -> list[dict[str, Any]]:
    """The ``tool_call`` parts of a ``function_call`` value; what a call says beyond them goes
    to ``extras`` by call index."""
    calls, is_list = _parse_calls(value, where)
    parts: list[dict[str, Any]] = []
    for j, call in enumerate(calls):
        cwhere = f"{where}[{j}]" if is_list else where
        if type(call) is not dict:
            raise wrong_type(cwhere, 'a JSON object {"name", "arguments"}', call)
        name = tool_name(call.get("name"), f"{cwhere}.name")
        call_id = call.get("id")
        if call_id is not None and type(call_id) is not str:
            raise wrong_type(f"{cwhere}.id", "a string", call_id)
        arguments = parse_arguments(call.get("arguments"), f"{cwhere}.arguments")
        cid = tracker.call(name, call_id)
        parts.append(tool_call_part(name, cid, arguments))
        if more := unmapped_keys(call, _CALL_KEYS):
            extras[str(j)] = more
    return parts


def _source_ids(turns: list[Any], role_key: str, content_key: str) -> set[str]:
    """The call ids the ``function_call`` turns give: ids a synthesised one must not repeat."""
    ids: set[str] = set()
    for turn in turns:
        if type(turn) is not dict or type(turn.get(role_key)) is not str:
            continue
        if turn[role_key].lower() != "function_call" or type(turn.get(content_key)) is not str:
            continue
        try:
            calls, _ = _parse_calls(turn[content_key], "")
        except AdapterError:
            continue  # the turn is quarantined when it is reached
        ids.update(c["id"] for c in calls if type(c) is dict and type(c.get("id")) is str)
    return ids


def build(options: Mapping[str, Any]) -> AdaptFn:
    field: str = options["conversations_field"]
    role_key: str = options["role_key"]
    content_key: str = options["content_key"]
    system_field: str = options["system_field"]
    tools_field: str = options["tools_field"]
    configured: str | None = options["toolset_id"]
    default: str | None = options.get(DEFAULT_TOOLSET)
    known = frozenset({role_key, content_key})

    def adapt_sharegpt(raw: Any) -> list[Adapted]:
        require_object(raw)
        turns = raw.get(field)
        if type(turns) is not list:
            if turns is None:
                raise missing(field)
            raise wrong_type(field, "an array of turns", turns)
        messages: list[dict[str, Any]] = []
        system = optional_text(raw, system_field)
        if system is not None:
            messages.append({"role": "system", "content": [{"type": "text", "text": system}]})
        tracker = CallTracker(lambda: _source_ids(turns, role_key, content_key))
        for i, turn in enumerate(turns):
            where = f"{field}[{i}]"
            if type(turn) is not dict:
                raise wrong_type(where, "an object", turn)
            speaker = turn.get(role_key)
            if type(speaker) is not str:
                if speaker is None:
                    raise missing(f"{where}.{role_key}")
                raise wrong_type(f"{where}.{role_key}", "a string", speaker)
            role = _ROLES.get(speaker) or _ROLES.get(speaker.lower())
            if role is None:
                raise AdapterError(
                    UNKNOWN_ROLE,
                    f"{where}.{role_key} {value_text(speaker)} is not one of {', '.join(_ROLES)}",
                )
            value = turn.get(content_key)
            if type(value) is not str:
                if value is None:
                    raise missing(f"{where}.{content_key}")
                raise wrong_type(f"{where}.{content_key}", "a string", value)
            call_extras: dict[str, Any] = {}
            if role == "function_call":
                role = "assistant"
                parts = _calls(value, f"{where}.{content_key}", tracker, call_extras)
            elif role == "observation":
                cid, name = tracker.answer(None, None, where)
                role = "tool"
                parts = [tool_result_part(name, cid, result_value(value))]
            else:
                parts = [{"type": "text", "text": value}]
            msg: dict[str, Any] = {"role": role, "content": parts}
            if len(turn) > 2 or call_extras:
                annotations = message_annotations(turn, known, where, {CALL_EXTRAS: call_extras})
                if annotations:
                    msg["annotations"] = annotations
            messages.append(msg)
        raw_tools = raw.get(tools_field)
        declared = toolset_from_declared(raw_tools, tools_field) if raw_tools is not None else None
        record, toolset = attach_toolset(messages, declared, tracker, configured, default)
        return [Adapted(record, toolset=toolset, metadata=record_metadata(raw))]

    return adapt_sharegpt
