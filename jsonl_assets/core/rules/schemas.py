"""The input_schemas E9 compares tool_call arguments against, each read once per package.

A schema comes from the manifest, whose size alone bounds it: its `required` list may hold
100,000 keys and a property's `type` may be a list nested 1,000 deep. `SchemaIndex` turns
each schema into a `ToolSchema` on first use and keeps it, so that judging one call costs
the size of its arguments (plus a constant), never the size of the schema, and nothing here
recurses or prints more than a few short values.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterator, Mapping
from typing import Any, Final

from jsonl_assets.core.rules.vocabulary import NO_DICT

RawSchemas = Mapping[str, Mapping[str, dict[str, Any]]]
# The JSON Schema primitive types E9 judges; a `type` naming anything else is not ours to
# judge (B7 reports it on metadata.json).
PRIMITIVE_TYPES: Final = frozenset(
    {"string", "number", "integer", "boolean", "object", "array", "null"}
)
MISSING_SHOWN: Final = 5  # required keys an E9.required message names; the rest are counted

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxlist = 8
_REPR.maxstring = _REPR.maxother = 60


class Expected:
    """A property's `type`: the primitive type names it allows, and how a message shows it."""

    __slots__ = ("names", "text")

    def __init__(self, names: frozenset[str], text: str) -> None:
        self.names = names
        self.text = text

    def matches(self, value: object) -> bool:
        names = self.names
        kind = type(value)
        if kind is str:
            return "string" in names
        if kind is bool:
            return "boolean" in names
        if kind is int:
            return "integer" in names or "number" in names
        if kind is float:
            return "number" in names or ("integer" in names and value.is_integer())  # type: ignore[attr-defined]
        if kind is dict:
            return "object" in names
        if kind is list:
            return "array" in names
        if value is None:
            return "null" in names
        return False


def expected_type(kind: object) -> Expected | None:
    """The `type` of a property schema; None when it allows every value: it is absent, or it
    is (or its array holds) something other than a primitive type name. Only the top-level
    array is a union: an array inside it is not a type name (B7), so not ours to judge."""
    if kind is None:
        return None
    if type(kind) is str:
        return Expected(frozenset((kind,)), kind) if kind in PRIMITIVE_TYPES else None
    if type(kind) is not list:
        return None
    names: set[str] = set()
    for item in kind:
        if type(item) is not str or item not in PRIMITIVE_TYPES:
            return None
        names.add(item)
    return Expected(frozenset(names), _REPR.repr(kind))


class ToolSchema:
    """One tool's input_schema as E9 reads it: `required` (its distinct string keys, in
    order), the declared `props`, whether other properties are `closed`, and each judged
    property's `Expected` type (made on first use)."""

    __slots__ = ("_types", "closed", "props", "required")

    def __init__(self, schema: dict[str, Any]) -> None:
        required = schema.get("required")
        self.required: dict[str, None] = (
            {key: None for key in required if type(key) is str} if type(required) is list else {}
        )
        props = schema.get("properties")
        self.props: dict[str, Any] = props if type(props) is dict else NO_DICT
        self.closed = schema.get("additionalProperties") is False
        self._types: dict[str, Expected | None] = {}

    def missing(self, arguments: dict[str, Any]) -> tuple[list[str], int]:
        """The first `MISSING_SHOWN` required keys `arguments` lacks, and how many it lacks.

        The keys present are counted from the smaller side, and the scan for the first
        missing ones passes only keys that are present: O(len(arguments)), whatever the size
        of `required`."""
        required = self.required
        if not required:
            return [], 0
        if len(arguments) <= len(required):
            present = sum(1 for key in arguments if key in required)
        else:
            present = sum(1 for key in required if key in arguments)
        count = len(required) - present
        shown: list[str] = []
        if count:
            for key in required:
                if key not in arguments:
                    shown.append(key)
                    if len(shown) == MISSING_SHOWN:
                        break
        return shown, count

    def expected(self, key: str, sub: dict[str, Any]) -> Expected | None:
        """The type property `key` (whose schema is `sub`) must have; None: any value."""
        types = self._types
        if key in types:
            return types[key]
        found = types[key] = expected_type(sub.get("type"))
        return found


class SchemaIndex(Mapping[str, Mapping[str, dict[str, Any]]]):
    """toolset id -> tool name -> input_schema (read as the raw mapping it wraps), with each
    tool's `ToolSchema` made once (`tool`). One index serves every file of a package."""

    __slots__ = ("_raw", "_tools")

    def __init__(self, raw: RawSchemas) -> None:
        self._raw = raw
        self._tools: dict[tuple[str, str], ToolSchema | None] = {}

    def __getitem__(self, toolset_id: str) -> Mapping[str, dict[str, Any]]:
        return self._raw[toolset_id]

    @property
    def raw(self) -> RawSchemas:
        """The mapping it wraps (a builder adding toolsets to it adds them to the index)."""
        return self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def tool(self, toolset_id: str, name: str) -> ToolSchema | None:
        """The schema of tool `name` of toolset `toolset_id`; None when it declares none."""
        key = (toolset_id, name)
        tools = self._tools
        if key in tools:
            return tools[key]
        schemas = self._raw.get(toolset_id)
        schema = schemas.get(name) if schemas is not None else None
        found = tools[key] = ToolSchema(schema) if type(schema) is dict else None
        return found
