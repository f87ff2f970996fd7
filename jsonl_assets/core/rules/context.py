"""What the package around a record tells the record rules: toolsets, tool schemas, assets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RecordContext:
    """`toolsets` maps toolset id -> tool names; `tool_schemas` maps toolset id -> tool name ->
    input_schema (for E9). `asset_ids` is None when the package declares no asset index."""

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
