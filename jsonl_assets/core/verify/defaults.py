"""`defaults` of metadata.json: A13 (`system` is an array of valid content parts), A14
(`toolset_id` names one of the toolsets) and A15 (`reasoning_policy` is a string, `train`
expected). One check for the config (`defaults:`, refused when the config loads, before any
data is read) and for a package's metadata.json (`verify`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jsonl_assets.core.rules import ERROR, WARNING, Problem, RecordContext, content_problems
from jsonl_assets.core.rules.schemas import SchemaIndex
from jsonl_assets.core.verify.report import jtype, show
from jsonl_assets.core.verify.toolsets import check_toolsets

# report(rule, severity, message): the message starts with the dotted key (`defaults.x: ...`)
DefaultsReport = Callable[[str, str, str], None]


def default_toolset(
    defaults: object, toolsets: Mapping[str, Any], report: DefaultsReport
) -> str | None:
    """A14; return the default toolset id when it is a string."""
    if type(defaults) is not dict or "toolset_id" not in defaults:
        return None
    toolset_id = defaults["toolset_id"]
    if type(toolset_id) is not str:
        report("A14", ERROR, "defaults.toolset_id: must be a string")
        return None
    if toolset_id not in toolsets:
        report("A14", ERROR, f"defaults.toolset_id: unknown toolset {show(toolset_id)}")
    return toolset_id


def reasoning_policy(defaults: object, report: DefaultsReport) -> None:
    """A15: a non-string `reasoning_policy` is an error (the field's type is spec); a value
    other than `train` is a warning."""
    if type(defaults) is not dict or "reasoning_policy" not in defaults:
        return
    policy = defaults["reasoning_policy"]
    if type(policy) is not str:
        report("A15", ERROR, f"defaults.reasoning_policy: must be a string, got {jtype(policy)}")
    elif policy != "train":
        report("A15", WARNING, f"defaults.reasoning_policy: {show(policy)} is not 'train'")


def system_problems(defaults: object, base: RecordContext) -> list[Problem]:
    """A13: what the content rules (D*) find in `defaults.system`; none when it is absent."""
    if type(defaults) is not dict or "system" not in defaults:
        return []
    try:
        return content_problems(defaults["system"], "defaults.system", base)
    except RecursionError:
        return [Problem("D1", ERROR, "defaults.system is nested too deeply to check")]


def defaults_errors(defaults: object, toolsets: object) -> list[tuple[str, str]]:
    """The (dotted key, reason) of every A13/A14/A15 error of `defaults` beside `toolsets` (a
    config's, already free of B1-B7 errors): what `verify` would find in the package."""
    names, schemas = check_toolsets(toolsets, lambda *_: None)
    errors: list[tuple[str, str]] = []

    def report(rule: str, severity: str, message: str) -> None:
        if severity == ERROR:
            key, sep, reason = message.partition(": ")
            if not (sep and key.startswith("defaults") and " " not in key):
                key, reason = "defaults", message
            errors.append((key, f"{reason} (spec rule {rule} of metadata.json `defaults`)"))

    reasoning_policy(defaults, report)
    base = RecordContext(
        toolsets=names,
        default_toolset_id=default_toolset(defaults, names, report),
        tool_schemas=SchemaIndex(schemas),
    )
    for problem in system_problems(defaults, base):
        report("A13", problem.severity, f"{problem.message} ({problem.rule})")
    return errors
