"""The quality policy: what the validated stage does with records that are valid but useless.

Config: a top-level `quality:` mapping of rule -> action, overridden per source by
`sources[].quality` (same keys; a source's mapping wins rule by rule). Rules are the checks of
quality_rules.py plus `spec_warnings` (any W rule of the spec's checklist). Actions:

* `quarantine`: the record goes to quarantine as `quality:<rule>`
  (`quality:spec_warning:<W rule>` for spec warnings) and counts as invalid;
* `warn`: the record is written; it is counted and a few traces are kept in the stage report;
* `keep`: nothing is judged (for `spec_warnings`, the warnings are not even computed).

Defaults: every content rule `quarantine`, `spec_warnings` `warn` (counted, written: the sample
package's bytes do not depend on them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from jsonl_assets.core.picklable_errors import Picklable
from jsonl_assets.core.rules.quality_rules import RULE_OBJECTIVES

QUARANTINE: Final = "quarantine"
WARN: Final = "warn"
KEEP: Final = "keep"
ACTIONS: Final = (QUARANTINE, WARN, KEEP)
SPEC_WARNINGS: Final = "spec_warnings"
POLICY_KEYS: Final = (*RULE_OBJECTIVES, SPEC_WARNINGS)
DEFAULT_ACTIONS: Final[Mapping[str, str]] = {
    **dict.fromkeys(RULE_OBJECTIVES, QUARANTINE),
    SPEC_WARNINGS: WARN,
}


class PolicyError(Picklable, ValueError):
    """A bad `quality` mapping: `key` is the dotted key below the mapping ('' for itself)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


@dataclass(frozen=True, slots=True)
class QualityPolicy:
    """Action per rule (every key of POLICY_KEYS present)."""

    actions: Mapping[str, str]

    @property
    def spec_warnings(self) -> str:
        return self.actions[SPEC_WARNINGS]

    def rules_for(self, objective: str) -> tuple[tuple[str, str], ...]:
        """(rule, action) of the content rules that apply to `objective` and are not `keep`."""
        return tuple(
            (rule, action)
            for rule, action in self.actions.items()
            if rule != SPEC_WARNINGS and action != KEEP and objective in RULE_OBJECTIVES[rule]
        )

    def to_json(self) -> dict[str, str]:
        return dict(self.actions)


DEFAULT_POLICY: Final = QualityPolicy(dict(DEFAULT_ACTIONS))


@dataclass(frozen=True, slots=True)
class SourceQuality:
    """A policy as the validator uses it for one objective: the rules to run (not `keep`),
    the action of each rule, and the spec-warnings action."""

    rules: frozenset[str]
    actions: Mapping[str, str]
    spec_warnings: str


def source_quality(policy: QualityPolicy, objective: str) -> SourceQuality:
    return SourceQuality(
        rules=frozenset(rule for rule, _ in policy.rules_for(objective)),
        actions=policy.actions,
        spec_warnings=policy.spec_warnings,
    )


def parse_policy(
    data: Any, base: QualityPolicy = DEFAULT_POLICY, objective: str | None = None
) -> QualityPolicy:
    """`base` with the actions of a `quality` mapping applied. With `objective` (a source's
    override), a content rule that cannot apply to that objective is an error."""
    if data is None:
        return base
    if not isinstance(data, dict):
        raise PolicyError("", f"must be a mapping of rule -> action, got {_type(data)}")
    actions = dict(base.actions)
    for key, value in data.items():
        if key not in POLICY_KEYS:
            raise PolicyError(str(key), f"unknown key; allowed keys here: {', '.join(POLICY_KEYS)}")
        if not isinstance(value, str) or value not in ACTIONS:
            raise PolicyError(key, f"must be one of {', '.join(ACTIONS)}; got {value!r}")
        if objective is not None and key != SPEC_WARNINGS:
            applies = RULE_OBJECTIVES[key]
            if objective not in applies:
                raise PolicyError(
                    key,
                    f"rule {key!r} applies to {', '.join(applies)} records, "
                    f"not to this {objective} source",
                )
        actions[key] = value
    return QualityPolicy(actions)


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__
