"""The config's `toolsets`, and every place the config names one of them, checked at load.

A toolset id the config names (`defaults.toolset_id`, an adapter's `toolset_id` option) must
be one the config's `toolsets` declare, or it is a config error naming the key and the
declared ids, before any data is read: otherwise every record would name a toolset the
package lacks (spec rules A14, D8) and the build would fail after reading everything. An id
of the shape the build derives from records' own tools (`tools-<12 hex>`) exists only once
the records are read, so the manifest and the validator check it instead.

A toolset the config declares under an id of that shape must be the toolset that id derives
from (its tools hash to it): any other would take the place of the toolset the build derives
from records declaring other tools, and those records would be quarantined as naming tools
their toolset lacks, for a mistake of the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from jsonl_assets.core.adapters.toolsets import DERIVED_ID, toolset_id_for
from jsonl_assets.core.blank_text import is_blank
from jsonl_assets.core.config.errors import ConfigError
from jsonl_assets.core.verify.defaults import defaults_errors
from jsonl_assets.core.verify.report import show
from jsonl_assets.core.verify.toolsets import toolset_errors

# The adapter option naming a toolset of the config (chat, sharegpt; any adapter that has it).
TOOLSET_OPTION = "toolset_id"


def declared_ids(toolsets: Any) -> frozenset[str]:
    """The string ids of the config's `toolsets` entries."""
    if not isinstance(toolsets, list):
        return frozenset()
    return frozenset(
        t["id"] for t in toolsets if isinstance(t, dict) and isinstance(t.get("id"), str)
    )


def declared_hint(declared: frozenset[str]) -> str:
    """What the config declares, for an "unknown toolset" message."""
    if not declared:
        return "the config declares no `toolsets`; declare it there (id and tools)"
    return "declared toolsets: " + ", ".join(show(i) for i in sorted(declared))


def parse_toolsets(cfg_path: Path, value: Any, defaults: Any) -> tuple[Mapping[str, Any], ...]:
    """`toolsets`, and `defaults` beside them, as the package verifier checks them in
    metadata.json (B1-B7, A13/A14): refused here rather than after the build."""
    if value is not None and not isinstance(value, list):
        raise ConfigError(cfg_path, "toolsets", "must be a list of spec toolsets")
    declared = declared_ids(value)
    named = defaults.get("toolset_id") if isinstance(defaults, dict) else None
    if isinstance(named, str) and named not in declared and DERIVED_ID.fullmatch(named):
        # A toolset the build derives from the records (`tools-<hash>`) exists only once
        # they are read: the manifest checks A14 against the package's toolsets.
        defaults = {k: v for k, v in defaults.items() if k != "toolset_id"}
    errors = (
        toolset_errors(value or [])
        or _blank_names(value or [])
        or _derived_shape_ids(value or [])
        or defaults_errors(defaults, value or [])
    )
    if errors:
        key, reason = errors[0]
        if key == "defaults.toolset_id" and reason.startswith("unknown toolset"):
            reason = f"{reason}; {declared_hint(declared)}"
        raise ConfigError(cfg_path, key, reason)
    return tuple(value or ())


def _blank_names(toolsets: list[Any]) -> list[tuple[str, str]]:
    """(dotted key, reason) of each blank (`blank_text.is_blank`) toolset id or tool name of
    `toolsets` (free of B1-B7 errors): a name with no visible character names nothing."""
    problems = []
    for i, toolset in enumerate(toolsets):
        names = [(f"toolsets[{i}].id", toolset["id"])]
        names += [
            (f"toolsets[{i}].tools[{j}].name", t["name"]) for j, t in enumerate(toolset["tools"])
        ]
        problems += [
            (
                key,
                f"must not be blank (empty, only whitespace or invisible characters), got {name!r}",
            )
            for key, name in names
            if is_blank(name)
        ]
    return problems


def _derived_shape_ids(toolsets: list[Any]) -> list[tuple[str, str]]:
    """(dotted key, reason) of each toolset id of `toolsets` (free of B1-B7 errors) that has
    the shape of a derived id (`tools-<12 hex>`) but is not the id its own tools derive: it
    would replace the toolset the build derives from records declaring other tools."""
    problems = []
    for i, toolset in enumerate(toolsets):
        named = toolset["id"]
        if not DERIVED_ID.fullmatch(named):
            continue
        try:
            own = toolset_id_for(list(toolset["tools"]))
        except orjson.JSONEncodeError:
            own = None
        if named != own:
            problems.append(
                (
                    f"toolsets[{i}].id",
                    f"{show(named)} has the shape of the ids the build derives from records' "
                    "own tools (tools-<12 hex>), but these tools derive "
                    f"{show(own) if own else 'no such id'}: records declaring the tools "
                    f"{show(named)} stands for would be checked against this toolset instead; "
                    "give it an id of another shape (and use that id where the config names it)",
                )
            )
    return problems


def check_option_toolset(
    cfg_path: Path, key: str, options: Mapping[str, Any], declared: frozenset[str]
) -> None:
    """ConfigError at `<key>.options.toolset_id` when a source's adapter option names a
    toolset the config does not declare (and that the build cannot derive)."""
    named = options.get(TOOLSET_OPTION)
    if not isinstance(named, str) or named in declared or DERIVED_ID.fullmatch(named):
        return
    raise ConfigError(
        cfg_path,
        f"{key}.options.{TOOLSET_OPTION}",
        f"unknown toolset {show(named)} (spec rule D8: every record of this source that "
        f"declares no tools would name it); {declared_hint(declared)}",
    )
