"""Owners and tags of the assets: the team (`ui.team` in the config, a placeholder by
default) as owner `team:<name>` and tag `team`, and the run tags `objective` and `split`."""

from __future__ import annotations

import warnings
from typing import Final

import dagster as dg

DEFAULT_TEAM: Final = "llm-data"  # the config's default (core/config/models.py, Ui.team)
TEAM_TAG: Final = "team"
OBJECTIVE_TAG: Final = "objective"
SPLIT_TAG: Final = "split"


def team_owner(team: str) -> str:
    return f"team:{team}"


def team_tags(team: str) -> dict[str, str]:
    return {TEAM_TAG: team}


def partition_tags(key: str) -> dict[str, str]:
    """`objective` and `split` run tags of a partition key `objective|split` (filterable on
    the Runs page)."""
    objective, _, split = key.partition("|")
    return {OBJECTIVE_TAG: objective, SPLIT_TAG: split}


def with_team(defs: dg.Definitions, team: str) -> dg.Definitions:
    """`defs` with every asset owned and tagged by `team` (the specs carry the default).
    Dagster 1.13 calls `Definitions.map_asset_specs` a preview: its PreviewWarnings (printed
    at every load of the code location and in every run's process) are silenced here,
    deliberately, as the partitioned checks' are (checks.spec)."""
    if team == DEFAULT_TEAM:
        return defs

    def own(spec: dg.AssetSpec) -> dg.AssetSpec:
        return spec.replace_attributes(
            owners=[team_owner(team)], tags={**spec.tags, **team_tags(team)}
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_asset_specs(func=own)
