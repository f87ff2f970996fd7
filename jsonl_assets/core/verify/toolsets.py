"""Toolset shape (B1-B7), one check for the config (`toolsets:`) and for a package's
`metadata.json`: the config turns its errors into ConfigError, `verify` into findings.

B7 is a small structural check of each JSON Schema, not a full metaschema validation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from jsonl_assets.core.rules import ERROR, WARNING
from jsonl_assets.core.verify.report import jtype, show

# report(rule, severity, dotted key, reason)
Report = Callable[[str, str, str, str], None]
ToolNames = dict[str, frozenset[str]]
ToolSchemas = dict[str, dict[str, dict[str, Any]]]

_TOOLSET_KEYS: Final = frozenset({"id", "tools"})
_TOOL_KEYS: Final = frozenset({"name", "description", "input_schema", "output_schema"})
_SCHEMA_TYPES: Final = frozenset(
    {"string", "number", "integer", "boolean", "object", "array", "null"}
)


def toolset_errors(toolsets: list[Any]) -> list[tuple[str, str]]:
    """The (dotted key, reason) of every error (not warning) B1-B7 finds in `toolsets`."""
    errors: list[tuple[str, str]] = []

    def report(rule: str, severity: str, key: str, reason: str) -> None:
        if severity == ERROR:
            errors.append((key, reason))

    check_toolsets(toolsets, report)
    return errors


def check_toolsets(toolsets: object, report: Report) -> tuple[ToolNames, ToolSchemas]:
    """B1-B7; return toolset id -> tool names and toolset id -> tool -> input_schema."""
    names: ToolNames = {}
    schemas: ToolSchemas = {}
    if type(toolsets) is not list:
        return names, schemas

    def err(rule: str, key: str, reason: str) -> None:
        report(rule, ERROR, key, reason)

    def warn(rule: str, key: str, reason: str) -> None:
        report(rule, WARNING, key, reason)

    for i, toolset in enumerate(toolsets):
        where = f"toolsets[{i}]"
        if type(toolset) is not dict:
            err("B1", where, f"must be an object, got {jtype(toolset)}")
            continue
        for key in toolset:
            if key not in _TOOLSET_KEYS:
                warn("B1", f"{where}.{key}", "unknown toolset key")
        toolset_id = toolset.get("id")
        if type(toolset_id) is not str:
            err("B1", where, "needs a string 'id'")
        elif toolset_id in names:
            err("B2", f"{where}.id", f"{show(toolset_id)} is used by an earlier toolset")
            toolset_id = None
        tools = toolset.get("tools")
        if type(tools) is not list:
            err("B1", where, "needs an array 'tools'")
            tools = []
        tool_names: dict[str, None] = {}
        tool_schemas: dict[str, dict[str, Any]] = {}
        for j, tool in enumerate(tools):
            tw = f"{where}.tools[{j}]"
            if type(tool) is not dict:
                err("B3", tw, f"must be an object, got {jtype(tool)}")
                continue
            for key in tool:
                if key not in _TOOL_KEYS:
                    err("B4", f"{tw}.{key}", "unknown tool key")
            name = tool.get("name")
            if type(name) is not str:
                err("B3", tw, "needs a string 'name'")
            elif name in tool_names:
                err("B6", f"{tw}.name", f"{show(name)} is used by an earlier tool of {where}")
            else:
                tool_names[name] = None
            if "description" in tool and type(tool["description"]) is not str:
                err("B5", f"{tw}.description", "must be a string")
            for key in ("input_schema", "output_schema"):
                if key not in tool:
                    continue
                schema = tool[key]
                if type(schema) is not dict:
                    err("B5", f"{tw}.{key}", f"must be an object, got {jtype(schema)}")
                    continue
                for at, reason in _schema_problems(schema, f"{tw}.{key}"):
                    warn("B7", at, reason)
                if key == "input_schema":
                    kind = schema.get("type")
                    if kind is not None and kind != "object":
                        warn(
                            "B7", f"{tw}.input_schema.type", f"{show(kind)}; arguments are objects"
                        )
                    if type(name) is str:
                        tool_schemas[name] = schema
        if type(toolset_id) is str:
            names[toolset_id] = frozenset(tool_names)
            if tool_schemas:
                schemas[toolset_id] = tool_schemas
    return names, schemas


def _schema_problems(schema: object, where: str) -> list[tuple[str, str]]:
    """B7: (dotted key, reason) of each structural problem of a JSON Schema."""
    problems: list[tuple[str, str]] = []
    stack: list[tuple[object, str]] = [(schema, where)]
    while stack:
        node, at = stack.pop()
        if type(node) is bool:
            continue
        if type(node) is not dict:
            problems.append((at, "a schema must be an object or a boolean"))
            continue
        kind = node.get("type", None)
        kinds = kind if type(kind) is list else [kind] if kind is not None else []
        for item in kinds:
            if type(item) is not str or item not in _SCHEMA_TYPES:
                problems.append((f"{at}.type", f"{show(item)} is not a JSON Schema type"))
        required = node.get("required")
        if "required" in node and (
            type(required) is not list or any(type(item) is not str for item in required)
        ):
            problems.append((f"{at}.required", "must be an array of strings"))
        if "enum" in node and type(node["enum"]) is not list:
            problems.append((f"{at}.enum", "must be an array"))
        props = node.get("properties")
        if "properties" in node:
            if type(props) is not dict:
                problems.append((f"{at}.properties", "must be an object"))
            else:
                stack.extend((sub, f"{at}.properties.{key}") for key, sub in props.items())
        for key in ("items", "additionalProperties"):
            if key in node:
                stack.append((node[key], f"{at}.{key}"))
    return problems
