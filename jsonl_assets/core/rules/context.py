"""What the package around a record tells the record rules: toolsets, tool schemas, assets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonl_assets.core.rules.schemas import SchemaIndex


@dataclass(frozen=True, slots=True)
class RecordContext:
    """`toolsets` maps toolset id -> tool names; `tool_schemas` maps toolset id -> tool name ->
    input_schema (for E9). `asset_ids` is None when the package declares no asset index.

    `schema_index` reads `tool_schemas` for E9, each schema once: pass a `SchemaIndex` as
    `tool_schemas` to share one among the contexts of a package's files."""

    toolsets: Mapping[str, frozenset[str]] = field(default_factory=dict)
    file_toolset_id: str | None = None
    default_toolset_id: str | None = None
    asset_ids: frozenset[str] | None = None
    tool_schemas: Mapping[str, Mapping[str, dict[str, Any]]] | None = None
    schema_index: SchemaIndex | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        schemas = self.tool_schemas
        if schemas is not None:
            index = schemas if isinstance(schemas, SchemaIndex) else SchemaIndex(schemas)
            object.__setattr__(self, "schema_index", index)

    @property
    def inherited_toolset_id(self) -> str | None:
        """The toolset of a record without its own `toolset_id` (spec section 9.2)."""
        if self.file_toolset_id is not None:
            return self.file_toolset_id
        return self.default_toolset_id
