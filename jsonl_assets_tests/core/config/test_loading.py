"""A path-valued key the OS cannot take (a NUL byte, a name too long, a folder under a file,
a loop of symlinks) is a ConfigError naming the file and the dotted key (a source glob through a
symlink loop: the loop is a folder it cannot enter, quarantined unread): never a ValueError or
OSError out of config loading, so the CLI says "config error", the code location loads with
its defaults and the sensor skips its tick."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from jsonl_assets.core.config import CONFIG_ENV_VAR, ConfigError, load_config
from jsonl_assets.core.config.source_globs import unlisted_folder
from jsonl_assets.core.store import base
from jsonl_assets.defs.definitions import build_defs
from jsonl_assets.defs.schedules import DEFAULT_CRON, configured_automation
from jsonl_assets.defs.sensors import evaluate_sources

KEYS = ["output.dir", "output.work_dir", "output.quarantine_dir", "sources[0].paths[0]"]
VALUES = {
    "nul": "pack\0age",
    "nul after ~": "~nobody\0",
    "long name": "a" * 300,
    "under a file": "pipeline.yaml/sub",
    "symlink loop": "loop/x",
}


LOOP = unlisted_folder("Too many levels of symbolic links")


def _with(config: Path, key: str, value: str) -> Path:
    data = yaml.safe_load(config.read_text())
    if key.startswith("output."):
        data["output"][key.removeprefix("output.")] = value
    else:
        data["sources"][0]["paths"] = [value]
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("what", list(VALUES))
def test_a_path_the_os_refuses_is_a_config_error(sample_project: Path, key: str, what: str) -> None:
    loop = sample_project.parent / "loop"
    loop.symlink_to(loop)  # a link to itself
    config = _with(sample_project, key, VALUES[what])
    if what == "symlink loop" and key.startswith("sources"):
        # a folder the glob must enter but cannot: one input quarantined unread, named
        inputs = load_config(config).sources[0].inputs
        assert [(i.rel, i.not_a_file) for i in inputs] == [("loop", LOOP)]
        return
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert info.value.file == str(config)
    assert info.value.key == key, info.value


def test_a_nul_in_a_dir_leaves_the_code_location_and_sensor_working(
    sample_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _with(sample_project, "output.dir", "pack\0age")
    monkeypatch.setenv(CONFIG_ENV_VAR, str(config))
    assert configured_automation()[0] == DEFAULT_CRON
    defs = build_defs()
    assert isinstance(defs.get_schedule_def("package_rebuild"), dg.ScheduleDefinition)
    tick = evaluate_sources(None)
    assert tick.skip_reason is not None and "output.dir" in str(tick.skip_reason)


def test_an_unreachable_object_store_is_a_config_error_and_the_code_location_loads(
    sample_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore's EndpointConnectionError is no OSError: it escaped config loading (a
    traceback from `build`, a code location that failed to load). Nothing listens on
    127.0.0.1:9; no request leaves the machine."""
    for key, value in {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delitem(base._stores, "s3", raising=False)  # a store of another endpoint
    config = _with(sample_project, "sources[0].paths[0]", "s3://bucket/raw/*.jsonl")
    try:
        with pytest.raises(ConfigError) as info:
            load_config(config)
        assert info.value.key == "sources[0].paths[0]", info.value
        assert "EndpointConnectionError" in info.value.message
        assert "http://127.0.0.1:9/" in info.value.message
        monkeypatch.setenv(CONFIG_ENV_VAR, str(config))
        defs = build_defs()
        assert isinstance(defs.get_schedule_def("package_rebuild"), dg.ScheduleDefinition)
        tick = evaluate_sources(None)
        assert tick.skip_reason is not None and "sources[0].paths[0]" in str(tick.skip_reason)
    finally:
        base._stores.pop("s3", None)  # made with this test's environment


def test_a_file_url_is_the_local_path_it_names(sample_project: Path, tmp_path: Path) -> None:
    """`output.dir: file:///abs/elsewhere` was joined to the config's folder (a package built
    silently into `<config dir>/file:/abs/elsewhere`); a source glob likewise."""
    data = yaml.safe_load(sample_project.read_text())
    raw = sample_project.parent / "raw"
    first = data["sources"][0]["paths"][0]
    data["sources"][0]["paths"] = [f"file://{raw.parent}/{first}"]
    for name in ("dir", "work_dir", "quarantine_dir"):
        data["output"][name] = f"file://{tmp_path}/out/{name}"
    sample_project.write_text(yaml.safe_dump(data, sort_keys=False))
    cfg = load_config(sample_project)
    assert cfg.output.dir == tmp_path / "out" / "dir"
    assert cfg.output.work_dir == tmp_path / "out" / "work_dir"
    assert cfg.output.quarantine_dir == tmp_path / "out" / "quarantine_dir"
    assert cfg.sources[0].patterns == (f"{raw.parent}/{first}",)
    assert cfg.sources[0].inputs and all(i.path.is_file() for i in cfg.sources[0].inputs)


@pytest.mark.parametrize("key", ["output.dir", "output.work_dir", "sources[0].paths[0]"])
def test_a_file_url_with_a_host_or_a_relative_path_is_a_config_error(
    sample_project: Path, key: str
) -> None:
    config = _with(sample_project, key, "file://raw/x")
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert info.value.key == key and "absolute local path" in info.value.message, info.value
