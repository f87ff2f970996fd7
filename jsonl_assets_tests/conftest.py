"""Shared fixtures: a throw-away copy of the sample project and a temporary Dagster instance."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import orjson
import pytest
import yaml

from jsonl_assets_tests.azurite_server import azure, azure_endpoint, connection_string  # noqa: F401 - fixtures
from jsonl_assets_tests.gcs_server import EMULATOR_ENV as GCS_EMULATOR_ENV
from jsonl_assets_tests.gcs_server import gcs, gcs_endpoint  # noqa: F401 - fixtures
from jsonl_assets_tests.markers import MARKED
from jsonl_assets_tests.moto_server import aws_env, s3, s3_endpoint  # noqa: F401 - fixtures
from jsonl_assets_tests.object_server import object_store  # noqa: F401 - fixtures

# Builds in tests skip report.html and DATACARD.md (matplotlib: ~1-2 s a build); the report's
# own tests (jsonl_assets_tests/core/report/) turn it back on.
os.environ.setdefault("JSONL_ASSETS_REPORT", "0")

# No test reaches an address outside loopback: an object-store client that no fixture pointed
# at its loopback server finds a closed loopback port and dummy keys (so no cloud metadata
# service is asked for credentials either). The `s3`, `gcs` and `azure` fixtures override these.
DEAD_ENDPOINT = "http://127.0.0.1:9"
for _key, _value in {
    **aws_env(DEAD_ENDPOINT),
    GCS_EMULATOR_ENV: DEAD_ENDPOINT,
    "AZURE_STORAGE_CONNECTION_STRING": connection_string(DEAD_ENDPOINT),
}.items():
    os.environ.setdefault(_key, _value)

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATA = REPO / "data"
CORPUS = REPO.parent / "shared" / "corpus"


def materialize(
    config: Path,
    instance: dg.DagsterInstance,
    key: str | None,
    assets: list | None = None,
    **kw: Any,
) -> dg.ExecuteInProcessResult:
    """A real materialisation: the four stages of partition `key`, or the manifest (key None)."""
    from jsonl_assets.defs.assets import ALL_ASSETS, STAGE_ASSETS
    from jsonl_assets.defs.resources import PipelineResource

    return dg.materialize(
        assets or (STAGE_ASSETS if key else ALL_ASSETS),
        partition_key=key,
        instance=instance,
        resources={"pipeline": PipelineResource(config_path=str(config), **kw)},
        raise_on_error=False,
        selection=None if key else [ALL_ASSETS[-1]],
    )


def read_shard(path: Path) -> list[dict[str, Any]]:
    """The records of a shard, decompressed by its extension and parsed line by line."""
    from jsonl_assets.core.compression import iter_decompressed

    codec = {".zst": "zstd", ".gz": "gzip"}.get(path.suffix, "none")
    with open(path, "rb") as handle:
        data = b"".join(iter_decompressed(handle, codec))
    return [orjson.loads(line) for line in data.splitlines() if line]


def package_shards(package: Path) -> list[Path]:
    """Every shard file in the package, in its snapshot folders (`data/<partition>-<digest>/`)."""
    return sorted(p for p in package.glob("data/*/*.jsonl*") if not p.name.startswith("."))


def shard_relpaths(package: Path) -> set[str]:
    """`package_shards` as the paths metadata.json lists (`data/<folder>/<name>`)."""
    return {p.relative_to(package).as_posix() for p in package_shards(package)}


def published_quarantine(package: Path, quarantine_dir: Path) -> dict[str, Path]:
    """The quarantine published with the package's metadata.json, read through the
    snapshot's pointer (`snapshots/<sha256 of metadata.json, 16 hex>.json`): each file by
    `<objective>/<split>/<stage>.jsonl`."""
    import hashlib

    metadata = (package / "metadata.json").read_bytes()
    pointer = quarantine_dir / "snapshots" / f"{hashlib.sha256(metadata).hexdigest()[:16]}.json"
    doc = orjson.loads(pointer.read_bytes())
    assert doc["metadata_sha256"] == hashlib.sha256(metadata).hexdigest()
    return {
        f"{key.replace('|', '/')}/{f['stage']}.jsonl": quarantine_dir / f["path"]
        for key, entry in doc["partitions"].items()
        for f in entry["files"]
    }


def write_config(path: Path, config: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def notes_config(path: Path, paths: list[str], output: dict[str, str], name: str = "notes") -> Path:
    """A config at `path` with one cpt source of the `text` adapter reading `paths` into `output`."""
    source = {"name": name, "paths": paths, "objective": "cpt", "adapter": "text", "split": "train"}
    return write_config(
        path,
        {"dataset": {"name": "t", "description": "d"}, "output": output, "sources": [source]},
    )


@pytest.fixture(scope="session", autouse=True)
def dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A DAGSTER_HOME of the test process's own for the builds that do not set one: run.py's
    `.dagster_home` would be shared by pytest-xdist's workers (and the developer's UI)."""
    home = tmp_path_factory.mktemp("dagster_home")
    before = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    yield home
    if before is None:
        os.environ.pop("DAGSTER_HOME", None)
    else:
        os.environ["DAGSTER_HOME"] = before


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The public corpus, `../shared/corpus` beside the repository; skips the test without it."""
    if not (CORPUS / "README.md").is_file():
        pytest.skip(f"public corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture
def sample_project(tmp_path: Path) -> Path:
    """A copy of data/pipeline.yaml and data/raw/ in tmp_path; returns the config path."""
    data = tmp_path / "data"
    shutil.copytree(SAMPLE_DATA / "raw", data / "raw")
    shutil.copyfile(SAMPLE_DATA / "pipeline.yaml", data / "pipeline.yaml")
    return data / "pipeline.yaml"


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def build_with_core(config_path: Path, helper_thread: bool = True) -> Path:
    """Build every partition and publish the package through the core's one build path
    (`core/build.py`, as the assets call it), without Dagster; with or without the helper
    thread that compresses the shards (the bytes are the same). Returns the package dir."""
    from jsonl_assets.core.build import build_partition, publish
    from jsonl_assets.core.config import load_config
    from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS

    cfg = load_config(config_path)
    for objective in OBJECTIVES:
        for split in SPLITS:
            build_partition(cfg, f"{objective}|{split}", helper_thread=helper_thread)
    result = publish(cfg)
    assert result.manifest is not None and result.manifest.published, (
        result.problems or result.manifest.findings[:5]  # type: ignore[union-attr]
    )
    return cfg.output.dir


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        node = item.nodeid.removeprefix("jsonl_assets_tests/")
        for prefix, names in MARKED.items():
            if node.startswith(prefix):
                for name in names:
                    item.add_marker(name)
