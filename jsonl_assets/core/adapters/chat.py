"""`chat`: OpenAI-style chat records (sft).

Input: ``{"messages": [{"role", "content", "name"?, "tool_calls"?, "tool_call_id"?}, ...],
"tools"?}`` — the shape of OpenAI fine-tuning files and of most chat dumps.

* roles ``system``/``user``/``assistant`` keep their name; ``tool`` and the legacy
  ``function`` become ``tool``; any other role (``developer`` included) ->
  ``adapter:unknown_role``;
* content: a string -> one text part; null -> no part; a list of parts -> converted
  (``text``/``refusal`` -> text, ``image_url`` -> image ``ref.uri``, ``input_audio`` -> audio
  with a base64 ``data:`` URI; see ``parts.convert_part``);
* an assistant's ``reasoning_content`` (or ``reasoning``) string -> a leading reasoning part;
  a ``refusal`` string -> a trailing text part; ``tool_calls`` -> ``tool_call`` parts after
  the text (``arguments`` JSON is parsed; invalid JSON -> ``adapter:bad_arguments_json``);
  the legacy ``function_call`` likewise (its ``id`` is the call id); call ids missing from
  the source are synthesised ``call_<n>`` (1-based count of calls in the record;
  ``call_<n>_<k>`` when a call of the record has that id in the source);
* a tool message -> a ``tool`` message with one ``tool_result`` part answering a call (by
  ``tool_call_id``; without one, the oldest unanswered call, matched by ``name`` when given),
  named by the message's ``name`` (one that differs from the call's is kept, and the
  validator rejects it: spec E6) or else the call's, whose ``result`` is the content's JSON
  object, or ``{"content": text}``, or for content of several text parts (or none: ``[]``)
  ``{"content": [the text parts]}``, for null content ``{"content": null}``
  (``parts.content_result``); no such call ->
  ``adapter:unmatched_tool_result``;
* every message key not mapped above is kept in the message's ``annotations``: other keys
  (e.g. ``weight``), a ``tool_call_id`` outside a tool message, a non-string ``reasoning``
  or ``refusal``, a ``reasoning`` that differs from ``reasoning_content``, keys a tool
  message does not use; and so are the keys of OpenAI-style parts that spec parts cannot
  hold (``cache_control``, ``image_url.detail``), under ``annotations.part_extras`` by part
  index, and the keys of tool calls a ``tool_call`` part cannot hold (``index``,
  ``function.strict``: all but ``id``, ``type``, ``function.name``, ``function.arguments``),
  under ``annotations.call_extras`` by index in ``tool_calls`` (``"function_call"`` for the
  legacy call); by ``unmapped.py``'s one rule: a key holding null is as absent, any other
  value (``[]`` and ``{}`` included) is kept, and an ``input_audio.format`` its media type
  does not name (``opus``, written ``audio/ogg``) is a part extra. Nothing is overwritten:
  such a key that the message's own ``annotations`` object holds with another value ->
  ``adapter:annotation_conflict``;
* ``"content": ""`` beside tool calls writes no text part (it says "no text"); an empty text
  part given in a content list is kept, as given;
* record ``tools`` and legacy ``functions`` -> one derived toolset (both lists merged; a tool
  both declare differently -> ``adapter:bad_tools``), see ``toolsets.attach_toolset`` for
  the policy; record ``metadata`` -> ``Adapted.metadata``.

Whether the result has an assistant turn is the validator's concern (spec rule F1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import Field

from jsonl_assets.core.adapters.annotations import (
    CALL_EXTRAS,
    PART_EXTRAS,
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
    UNKNOWN_ROLE,
    UNSUPPORTED_CONTENT,
    CallTracker,
    content_result,
    convert_content,
    missing,
    parse_arguments,
    require_object,
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
    "system": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}
# Roles a two-key {"role", "content": str} message may have on the fast path (not tools).
_FAST_ROLES: Final = frozenset({"system", "user", "assistant"})
# The keys every message maps; the others are mapped only where they are used (see
# `_convert_message`), and every key not mapped goes to the message's annotations.
_BASE_KEYS: Final = frozenset({"role", "content", "name"})
# The keys a tool call maps to its `tool_call` part (the others go to `call_extras`).
_CALL_KEYS: Final = frozenset({"id", "type", "function"})
_FUNCTION_KEYS: Final = frozenset({"name", "arguments"})
_LEGACY_KEYS: Final = frozenset({"id", "name", "arguments"})


class Options(AdapterOptions):
    messages_field: str = Field("messages", description="Record key holding the messages.")
    toolset_id: str | None = Field(
        None,
        description="Toolset (declared in the config) for records that declare no tools of their own.",
    )


def _tool_calls(
    msg: dict[str, Any],
    where: str,
    tracker: CallTracker,
    parts: list[dict[str, Any]],
    extras: dict[str, Any],
) -> None:
    """The message's tool calls as `tool_call` parts appended to `parts`; what a call says
    beyond them goes to `extras` by index in `tool_calls` ("function_call" for the legacy
    call), in the call's shape."""
    calls = msg.get("tool_calls")
    if calls is not None:
        if type(calls) is not list:
            raise wrong_type(f"{where}.tool_calls", "an array", calls)
        for j, call in enumerate(calls):
            cwhere = f"{where}.tool_calls[{j}]"
            if type(call) is not dict:
                raise wrong_type(cwhere, "an object", call)
            kind = call.get("type", "function")
            if kind != "function":
                raise AdapterError(
                    UNSUPPORTED_CONTENT, f"{cwhere}.type {value_text(kind)} is not 'function'"
                )
            fn = call.get("function")
            if type(fn) is not dict:
                if fn is None:
                    raise missing(f"{cwhere}.function")
                raise wrong_type(f"{cwhere}.function", "an object", fn)
            parts.append(_call_part(fn, call.get("id"), cwhere, tracker))
            if more := unmapped_keys(call, _CALL_KEYS, {"function": _FUNCTION_KEYS}):
                extras[str(j)] = more
    legacy = msg.get("function_call")
    if legacy is not None:
        if type(legacy) is not dict:
            raise wrong_type(f"{where}.function_call", "an object", legacy)
        lwhere = f"{where}.function_call"
        parts.append(_call_part(legacy, legacy.get("id"), lwhere, tracker, lwhere))
        if more := unmapped_keys(legacy, _LEGACY_KEYS):
            extras["function_call"] = more


def source_call_ids(*message_lists: Any) -> set[str]:
    """The call ids the source gives (``tool_calls[].id``, ``function_call.id``) in the given
    message lists: ids a synthesised one must not repeat (``CallTracker``)."""
    ids: set[str] = set()
    for messages in message_lists:
        if type(messages) is not list:
            continue
        for msg in messages:
            if type(msg) is not dict:
                continue
            calls = msg.get("tool_calls")
            if type(calls) is list:
                ids.update(c["id"] for c in calls if type(c) is dict and type(c.get("id")) is str)
            legacy = msg.get("function_call")
            if type(legacy) is dict and type(legacy.get("id")) is str:
                ids.add(legacy["id"])
    return ids


def _call_part(
    fn: dict[str, Any],
    call_id: Any,
    cwhere: str,
    tracker: CallTracker,
    fwhere: str | None = None,
) -> dict[str, Any]:
    """The `tool_call` part of a call whose id is `call_id` (None: synthesised) and whose
    function (name, arguments) is `fn`; `cwhere` names the call, `fwhere` the function."""
    if call_id is not None and type(call_id) is not str:
        raise wrong_type(f"{cwhere}.id", "a string", call_id)
    where = fwhere or f"{cwhere}.function"
    name = tool_name(fn.get("name"), f"{where}.name")
    arguments = parse_arguments(fn.get("arguments"), f"{where}.arguments")
    cid = tracker.call(name, call_id)
    return tool_call_part(name, cid, arguments)


def convert_messages(
    raw_messages: list[Any], where: str, tracker: CallTracker, start: int = 0
) -> list[dict[str, Any]]:
    """OpenAI-style messages as spec messages; tool calls are tracked in ``tracker``.

    ``start`` is the index of ``raw_messages[0]`` in the source list (for error details).
    The common message — exactly ``role`` and a string ``content``, role not a tool — takes a
    fast path with no formatting and no further lookups.
    """
    out: list[dict[str, Any]] = []
    append = out.append
    for i, msg in enumerate(raw_messages, start):
        if type(msg) is dict and len(msg) == 2:
            role = msg.get("role")
            content = msg.get("content")
            if type(role) is str and type(content) is str and role in _FAST_ROLES:
                append({"role": role, "content": [{"type": "text", "text": content}]})
                continue
        append(_convert_message(msg, f"{where}[{i}]", tracker))
    return out


def _convert_message(msg: Any, where: str, tracker: CallTracker) -> dict[str, Any]:
    if type(msg) is not dict:
        raise wrong_type(where, "an object", msg)
    raw_role = msg.get("role")
    role = _ROLES.get(raw_role) if type(raw_role) is str else None
    if role is None:
        if raw_role is None:
            raise missing(f"{where}.role")
        raise AdapterError(
            UNKNOWN_ROLE,
            f"{where}.role {value_text(raw_role)} is not one of system, user, assistant, tool, function",
        )
    name = msg.get("name")
    if name is not None and type(name) is not str:
        raise wrong_type(f"{where}.name", "a string", name)
    used = set(_BASE_KEYS)  # the keys mapped; the others go to the annotations
    extras: dict[str, Any] = {}  # part_extras
    if role == "tool":
        call_id = msg.get("tool_call_id")
        if call_id is not None and type(call_id) is not str:
            raise wrong_type(f"{where}.tool_call_id", "a string", call_id)
        used.add("tool_call_id")
        cid, cname = tracker.answer(call_id, name, where)
        result = content_result(msg.get("content"), f"{where}.content", extras)
        # The source's name is kept: one that differs from the call's reaches the validator
        # (spec E6) instead of being replaced by the call's.
        part = tool_result_part(cname if name is None else name, cid, result)
        new: dict[str, Any] = {"role": "tool", "content": [part]}
        annotations = message_annotations(msg, used, where, {PART_EXTRAS: extras})
        if annotations:
            new["annotations"] = annotations
        return new
    content = msg.get("content")
    calls = bool(msg.get("tool_calls") or msg.get("function_call"))
    if type(content) is str:
        # The string "content": "" beside tool calls carries nothing (OpenAI writes it for
        # "no text"), whatever else the message holds; an empty text part given in a content
        # list is kept, as given.
        parts = [] if calls and not content else [{"type": "text", "text": content}]
    else:
        parts = convert_content(content, f"{where}.content", extras)
    # Normally only assistants carry these; on another role they are mapped all the same (the
    # validator warns about tool calls outside assistant messages) rather than dropped. A
    # value not mapped (a second, different reasoning text; a non-string reasoning or refusal)
    # goes to the annotations.
    thought = None
    for key in ("reasoning_content", "reasoning"):
        value = msg.get(key)
        if type(value) is str and (not value or thought is None or value == thought):
            used.add(key)
            thought = value or thought
    if thought:
        parts.insert(0, {"type": "reasoning", "text": thought})
    refusal = msg.get("refusal")
    if type(refusal) is str:
        used.add("refusal")
        if refusal:
            parts.append({"type": "text", "text": refusal})
    call_extras: dict[str, Any] = {}
    if calls:
        _tool_calls(msg, where, tracker, parts, call_extras)
        used.update(("tool_calls", "function_call"))
    new = {"role": role, "content": parts}
    if name is not None:
        new["name"] = name
    annotations = message_annotations(
        msg, used, where, {PART_EXTRAS: extras, CALL_EXTRAS: call_extras}
    )
    if annotations:
        new["annotations"] = annotations
    return new


def build(options: Mapping[str, Any]) -> AdaptFn:
    field: str = options["messages_field"]
    configured: str | None = options["toolset_id"]
    default: str | None = options.get(DEFAULT_TOOLSET)

    def adapt_chat(raw: Any) -> list[Adapted]:
        require_object(raw)
        raw_messages = raw.get(field)
        if type(raw_messages) is not list:
            if raw_messages is None:
                raise missing(field)
            raise wrong_type(field, "an array of messages", raw_messages)
        tracker = CallTracker(lambda: source_call_ids(raw_messages))
        messages = convert_messages(raw_messages, field, tracker)
        meta = raw.get("metadata")
        if type(meta) is not dict:
            meta = None
        raw_tools = raw.get("tools")
        raw_functions = raw.get("functions")
        if raw_tools is None and raw_functions is None and configured is None and not tracker.count:
            return [Adapted({"messages": messages}, None, "", meta)]  # the common case: no tools
        # Both lists are the record's tools: merged into one toolset (toolset_from_declared).
        declared = toolset_from_declared(raw_tools, "tools", (raw_functions, "functions"))
        record, toolset = attach_toolset(messages, declared, tracker, configured, default)
        return [Adapted(record, toolset, "", meta)]

    return adapt_chat
