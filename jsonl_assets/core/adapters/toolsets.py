"""Toolsets for the adapters: spec tool entries from OpenAI or bare function definitions, and
the content-derived toolset id ``"tools-" + sha256(canonical tool list)[:12]``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import orjson

from jsonl_assets.core.adapters.base import AdapterError
from jsonl_assets.core.adapters.parts import (
    BAD_TOOLS,
    CallTracker,
    embedded_json,
    missing,
    wrong_type,
)


def spec_tool(raw: Any, where: str) -> dict[str, Any]:
    """A spec tool entry from an OpenAI tool (``{"type":"function","function":{...}}``) or a
    bare function definition (``{"name","description","parameters"|"input_schema"}``)."""
    if type(raw) is not dict:
        raise wrong_type(where, "an object", raw)
    fn = raw.get("function")
    if type(fn) is dict:
        kind = raw.get("type", "function")
        if kind != "function":
            raise AdapterError(BAD_TOOLS, f"{where}.type {kind!r} is not 'function'")
        raw, where = fn, f"{where}.function"
    name = raw.get("name")
    if type(name) is not str or not name:
        if name is None:
            raise missing(f"{where}.name")
        raise wrong_type(f"{where}.name", "a non-empty string", name)
    tool: dict[str, Any] = {"name": name}
    description = raw.get("description")
    if description is not None:
        if type(description) is not str:
            raise wrong_type(f"{where}.description", "a string", description)
        tool["description"] = description
    schema = raw.get("parameters")
    if schema is None:
        schema = raw.get("input_schema")
    if schema is not None:
        if type(schema) is not dict:
            raise wrong_type(f"{where}.parameters", "an object", schema)
        tool["input_schema"] = schema
    output_schema = raw.get("output_schema")
    if output_schema is not None:
        if type(output_schema) is not dict:
            raise wrong_type(f"{where}.output_schema", "an object", output_schema)
        tool["output_schema"] = output_schema
    return tool


def toolset_id_for(tools: list[dict[str, Any]]) -> str:
    """``"tools-"`` + the first 12 hex digits of the sha256 of the spec tool list serialised
    by orjson with sorted keys (list order kept)."""
    canonical = orjson.dumps(tools, option=orjson.OPT_SORT_KEYS)
    return "tools-" + hashlib.sha256(canonical).hexdigest()[:12]


def make_toolset(tools: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": toolset_id_for(tools), "tools": tools}


def toolset_from_declared(raw_tools: Any, where: str) -> dict[str, Any] | None:
    """The toolset a record declares (a list of tools, or a JSON string of one); None when it
    declares none (absent, null, empty list or empty string)."""
    if raw_tools is None:
        return None
    if type(raw_tools) is str:
        if not raw_tools.strip():
            return None
        try:
            raw_tools = embedded_json(raw_tools, where)
        except orjson.JSONDecodeError as exc:
            raise AdapterError(BAD_TOOLS, f"{where} is not valid JSON ({exc})") from None
    if type(raw_tools) is not list:
        raise wrong_type(where, "an array of tools (or a JSON string of one)", raw_tools)
    if not raw_tools:
        return None
    tools = [spec_tool(t, f"{where}[{i}]") for i, t in enumerate(raw_tools)]
    seen: set[str] = set()
    for tool in tools:
        if tool["name"] in seen:
            raise AdapterError(BAD_TOOLS, f"{where} declares tool {tool['name']!r} twice")
        seen.add(tool["name"])
    return make_toolset(tools)


def toolset_from_names(names: Iterable[str]) -> dict[str, Any]:
    """A description-less toolset naming the given tools (sorted, distinct)."""
    return make_toolset([{"name": n} for n in sorted(set(names))])


def attach_toolset(
    messages: list[dict[str, Any]],
    declared: dict[str, Any] | None,
    tracker: CallTracker | None,
    configured_id: str | None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The record body and its derived toolset, by the tool policy shared by chat-like
    adapters:

    1. tools declared in the record -> that toolset (record ``toolset_id`` = its id);
    2. else the ``toolset_id`` option, when set -> record ``toolset_id`` names it (a toolset
       the config declares); no toolset is derived;
    3. else, when the record calls tools -> a description-less toolset of the called names,
       so the record is self-consistent;
    4. else no toolset.
    """
    toolset = declared
    if toolset is None and configured_id is None and tracker is not None and tracker.count:
        toolset = toolset_from_names(tracker.called_names())
    if toolset is not None:
        return {"toolset_id": toolset["id"], "messages": messages}, toolset
    if configured_id is not None:
        return {"toolset_id": configured_id, "messages": messages}, None
    return {"messages": messages}, None
