"""Toolsets for the adapters: spec tool entries from OpenAI or bare function definitions, and
the content-derived toolset id ``"tools-" + sha256(canonical tool list)[:12]``.

What a declared tool says beyond the spec's tool keys (OpenAI's ``strict``, a wrapper's
vendor keys) is kept, per tool name, in the derived toolset's ``TOOL_EXTRAS`` and written to
metadata.json's ``extensions.x-jsonl-assets.tool_extras.<toolset id>`` (spec: vendor data in
``extensions``, never as new tool keys)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any, Final

import orjson

from jsonl_assets.core.adapters.annotations import same_json
from jsonl_assets.core.adapters.base import AdapterError
from jsonl_assets.core.adapters.parts import (
    BAD_TOOLS,
    CallTracker,
    embedded_json,
    tool_name,
    wrong_type,
)
from jsonl_assets.core.blank_text import JSON_WHITESPACE
from jsonl_assets.core.value_text import value_text

# The keys a raw tool maps to its spec entry: an OpenAI wrapper's, then a definition's.
_WRAPPER_KEYS: Final = frozenset({"type", "function"})
_DEFINITION_KEYS: Final = frozenset(
    {"name", "description", "parameters", "input_schema", "output_schema"}
)
# A derived toolset's key holding, per tool name, what the source's tools say beyond the
# spec's tool keys (spec rule B4). It never reaches a toolset in metadata.json: the manifest
# moves it to `extensions.x-jsonl-assets.tool_extras.<toolset id>`.
TOOL_EXTRAS: Final = "tool_extras"


def spec_tool(raw: Any, where: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A spec tool entry from an OpenAI tool (``{"type":"function","function":{...}}``) or a
    bare function definition (``{"name","description","parameters"|"input_schema"}``), and
    the keys of ``raw`` the entry cannot hold (e.g. OpenAI's ``strict``), in ``raw``'s shape
    (``{"function": {"strict": true}}``), or None. Both ``parameters`` and ``input_schema``
    with different values -> ``adapter:bad_tools`` (neither can be chosen)."""
    if type(raw) is not dict:
        raise wrong_type(where, "an object", raw)
    extras: dict[str, Any] = {}
    fn = raw.get("function")
    if type(fn) is dict:
        kind = raw.get("type", "function")
        if kind != "function":
            raise AdapterError(BAD_TOOLS, f"{where}.type {value_text(kind)} is not 'function'")
        extras = _extras(raw, _WRAPPER_KEYS)
        raw, where = fn, f"{where}.function"
        if inner := _extras(fn, _DEFINITION_KEYS):
            extras["function"] = inner
    else:
        extras = _extras(raw, _DEFINITION_KEYS)
    name = tool_name(raw.get("name"), f"{where}.name")
    tool: dict[str, Any] = {"name": name}
    description = raw.get("description")
    if description is not None:
        if type(description) is not str:
            raise wrong_type(f"{where}.description", "a string", description)
        tool["description"] = description
    schema = raw.get("parameters")
    other = raw.get("input_schema")
    if schema is None:
        schema = other
    elif other is not None and not same_json(schema, other):
        raise AdapterError(
            BAD_TOOLS,
            f"{where} gives both parameters and input_schema, with different values",
        )
    if schema is not None:
        if type(schema) is not dict:
            raise wrong_type(f"{where}.parameters", "an object", schema)
        tool["input_schema"] = schema
    output_schema = raw.get("output_schema")
    if output_schema is not None:
        if type(output_schema) is not dict:
            raise wrong_type(f"{where}.output_schema", "an object", output_schema)
        tool["output_schema"] = output_schema
    return tool, extras or None


def _extras(raw: dict[str, Any], mapped: frozenset[str]) -> dict[str, Any]:
    """The keys of ``raw`` not in ``mapped`` (null values say nothing), in ``raw``'s order."""
    return {k: v for k, v in raw.items() if k not in mapped and v is not None}


DERIVED_ID: Final = re.compile(r"tools-[0-9a-f]{12}")  # the shape of `toolset_id_for`'s ids


def toolset_id_for(tools: list[dict[str, Any]], extras: dict[str, Any] | None = None) -> str:
    """``"tools-"`` + the first 12 hex digits of the sha256 of the spec tool list serialised
    by orjson with sorted keys (list order kept); with ``extras`` (see ``TOOL_EXTRAS``), of
    ``[tools, extras]``, so toolsets differing only there get different ids."""
    value: Any = tools if not extras else [tools, extras]
    canonical = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return "tools-" + hashlib.sha256(canonical).hexdigest()[:12]


def make_toolset(
    tools: list[dict[str, Any]], extras: dict[str, Any] | None = None
) -> dict[str, Any]:
    if not extras:
        return {"id": toolset_id_for(tools), "tools": tools}
    return {"id": toolset_id_for(tools, extras), "tools": tools, TOOL_EXTRAS: extras}


def toolset_from_declared(
    raw_tools: Any, where: str, *more: tuple[Any, str]
) -> dict[str, Any] | None:
    """The toolset a record declares (a list of tools, or a JSON string of one); None when it
    declares none (absent, null, empty list or empty string).

    ``more`` are further ``(list, where)`` pairs the record declares tools in (chat's legacy
    ``functions`` beside ``tools``): their tools follow, in order, in the same toolset. A tool
    two lists declare alike (spec entry and extras) is one entry; declared differently ->
    ``adapter:bad_tools`` naming both (neither can be chosen); twice in one list, also."""
    tools: list[dict[str, Any]] = []
    by_name: dict[str, dict[str, Any]] = {}  # tool name -> its entry in `tools`
    extras: dict[str, Any] = {}
    origin: dict[str, tuple[str, str]] = {}  # tool name -> (its list, where it is declared)
    for raw, lwhere in ((raw_tools, where), *more):
        for i, t in enumerate(_tool_list(raw, lwhere)):
            twhere = f"{lwhere}[{i}]"
            tool, tool_extras = spec_tool(t, twhere)
            name = tool["name"]
            if name in origin:
                first_list, first = origin[name]
                if first_list == lwhere:
                    raise AdapterError(
                        BAD_TOOLS, f"{lwhere} declares tool {value_text(name)} twice"
                    )
                if same_json(by_name[name], tool) and same_json(extras.get(name), tool_extras):
                    continue
                raise AdapterError(
                    BAD_TOOLS,
                    f"{first} and {twhere} both declare tool {value_text(name)}, differently; neither "
                    "can be chosen",
                )
            origin[name] = (lwhere, twhere)
            tools.append(tool)
            by_name[name] = tool
            if tool_extras is not None:
                extras[name] = tool_extras
    return make_toolset(tools, extras) if tools else None


def _tool_list(raw_tools: Any, where: str) -> list[Any]:
    """A declared tool list (a JSON string of one parsed exactly); [] for none (absent, null,
    empty string, or one of only JSON whitespace)."""
    if raw_tools is None:
        return []
    if type(raw_tools) is str:
        if not raw_tools.strip(JSON_WHITESPACE):
            return []
        try:
            raw_tools = embedded_json(raw_tools, where)
        except orjson.JSONDecodeError as exc:
            raise AdapterError(BAD_TOOLS, f"{where} is not valid JSON ({exc})") from None
    if type(raw_tools) is not list:
        raise wrong_type(where, "an array of tools (or a JSON string of one)", raw_tools)
    return raw_tools


def toolset_from_names(names: Iterable[str]) -> dict[str, Any]:
    """A description-less toolset naming the given tools (sorted, distinct)."""
    return make_toolset([{"name": n} for n in sorted(set(names))])


def attach_toolset(
    messages: list[dict[str, Any]],
    declared: dict[str, Any] | None,
    tracker: CallTracker | None,
    configured_id: str | None,
    default_id: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The record body and its derived toolset, by the tool policy shared by chat-like
    adapters:

    1. tools declared in the record -> that toolset (record ``toolset_id`` = its id);
    2. else the ``toolset_id`` option, when set -> record ``toolset_id`` names it (a toolset
       the config declares); no toolset is derived;
    3. else, when the config's ``defaults.toolset_id`` (``default_id``) is set -> no
       ``toolset_id`` and no toolset: the record inherits the default, as a record in the
       spec's shape does, and the validator judges its calls against it (E2);
    4. else, when the record calls tools -> a description-less toolset of the called names,
       so the record is self-consistent (no toolset applies from the config or the record);
    5. else no toolset.
    """
    toolset = declared
    if (
        toolset is None
        and configured_id is None
        and default_id is None
        and tracker is not None
        and tracker.count
    ):
        toolset = toolset_from_names(tracker.called_names())
    if toolset is not None:
        return {"toolset_id": toolset["id"], "messages": messages}, toolset
    if configured_id is not None:
        return {"toolset_id": configured_id, "messages": messages}, None
    return {"messages": messages}, None
