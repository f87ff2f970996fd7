"""A blocking check that a step reports failed, said as one line: `<partition>: blocking check
<name> failed: <its description>` (the partition prefixed by the step's boundary,
user_errors.py), the form of the core's refusals (`failure_text`, ChecksFailed). Without it
Dagster fails the step after its results with its generic DagsterAssetCheckFailedError ("1
blocking asset check failed with ERROR severity: manifest: package_valid") over Dagster's
stack, naming neither the partition nor why."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dagster as dg

_WITH_CHECKS = (dg.MaterializeResult, dg.ObserveResult)


def blocking_checks(context: Any) -> frozenset[dg.AssetCheckKey]:
    """The blocking checks of the step's assets (none for an op without assets)."""
    if context is None or not context.has_assets_def:
        return frozenset()
    return frozenset(spec.key for spec in context.assets_def.check_specs if spec.blocking)


def _results(item: Any) -> Iterable[dg.AssetCheckResult]:
    if isinstance(item, dg.AssetCheckResult):
        return [item]
    if isinstance(item, _WITH_CHECKS):
        return item.check_results or []
    return []


def _is_blocking(result: dg.AssetCheckResult, blocking: frozenset[dg.AssetCheckKey]) -> bool:
    if result.asset_key is not None:
        return dg.AssetCheckKey(result.asset_key, result.check_name) in blocking
    return any(key.name == result.check_name for key in blocking)  # the step's only asset


def refusal_text(result: dg.AssetCheckResult) -> str:
    description = " ".join((result.description or "").split()) or "failed"
    return f"blocking check {result.check_name} failed: {description}"


def refusals(item: Any, blocking: frozenset[dg.AssetCheckKey]) -> list[str]:
    """What a step's yielded `item` refuses: a line per failed blocking check of ERROR
    severity it reports (the checks Dagster would fail the step on)."""
    return [
        refusal_text(r)
        for r in _results(item)
        if not r.passed and r.severity == dg.AssetCheckSeverity.ERROR and _is_blocking(r, blocking)
    ]
