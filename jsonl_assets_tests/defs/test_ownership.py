"""The config's `ui.team` owns and tags every asset, and setting it prints nothing: before,
`ownership.with_team` called Dagster's preview `Definitions.map_asset_specs` unguarded, so every
load of the code location (the webserver's, the daemon's, every run's process) printed two
PreviewWarnings on the `dagster dev` console, only for users who set the documented key."""

import warnings
from pathlib import Path

import dagster as dg
import yaml

from jsonl_assets.defs.definitions import build_defs


def test_a_configured_team_owns_every_asset_without_a_preview_warning(
    sample_project: Path,
) -> None:
    config = yaml.safe_load(sample_project.read_text(encoding="utf-8"))
    config["ui"] = {**config.get("ui", {}), "team": "my-team"}
    sample_project.write_text(yaml.safe_dump(config), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        defs = build_defs(str(sample_project))
    previews = [str(w.message) for w in caught if issubclass(w.category, dg.PreviewWarning)]
    assert previews == []
    graph = defs.resolve_asset_graph()
    specs = [graph.get(key) for key in graph.materializable_asset_keys]
    assert specs and all(s.owners == ["team:my-team"] for s in specs)
    assert all(s.tags.get("team") == "my-team" for s in specs)
