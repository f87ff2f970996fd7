from __future__ import annotations

import gc
from pathlib import Path

import pytest
import yaml

from jsonl_assets.core.config import CONFIG_ENV_VAR, ConfigError, load_config

from .conftest import write_config


def _base(tmp_path: Path) -> dict:
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    (raw / "a.jsonl").write_text('{"messages": []}\n', encoding="utf-8")
    return {
        "dataset": {"name": "t", "description": "d"},
        "sources": [
            {
                "name": "a",
                "paths": ["raw/*.jsonl"],
                "objective": "sft",
                "adapter": "chat",
                "split": "auto",
            }
        ],
    }


def test_sample_config_loads(sample_project: Path) -> None:
    cfg = load_config(sample_project)
    assert [s.name for s in cfg.sources] == [
        "support_chats",
        "ranked_tips",
        "seedlings_train",
        "seedlings_test",
        "garden_notes",
    ]
    assert cfg.output.dir == sample_project.parent / "package"
    assert cfg.output.compression == "zstd"
    assert [s.name for s in cfg.sources_for("rft", "test")] == ["seedlings_test"]
    assert cfg.sources[0].inputs[0].rel == "raw/sft/support_chats.jsonl"
    assert cfg.fingerprint() == load_config(sample_project).fingerprint()


def test_environment_variable_selects_the_config(
    sample_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JSONL_ASSETS_CONFIG", str(sample_project))
    assert load_config().path == sample_project


@pytest.mark.parametrize(
    ("mutate", "key", "message"),
    [
        (lambda c: c.update(colour="red"), "colour", "unknown key"),
        (lambda c: c["sources"][0].update(paht="x"), "sources[0].paht", "unknown key"),
        (
            lambda c: c.update(output={"compression": "lz4"}),
            "output.compression",
            "must be one of none, gzip, zstd",
        ),
        (
            lambda c: c.update(output={"max_records_per_shard": 0}),
            "output.max_records_per_shard",
            "integer >= 1",
        ),
        (lambda c: c.update(splits={"validation": 0.6, "test": 0.5}), "splits", "below 1"),
        (
            lambda c: c.update(thresholds={"max_invalid_rate": 2}),
            "thresholds.max_invalid_rate",
            "between 0 and 1",
        ),
        (
            lambda c: c["sources"][0].update(paths=["raw/*.csv"]),
            "sources[0].paths[0]",
            "matched no file",
        ),
        (lambda c: c["sources"][0].update(adapter="nope"), "sources[0].adapter", "chat"),
        (
            lambda c: c["sources"][0].update(options={"bogus": 1}),
            "sources[0].options.bogus",
            "valid options",
        ),
        (lambda c: c["sources"][0].update(format="xml"), "sources[0].format", "jsonl"),
        (
            lambda c: c["sources"][0].update(split="dev"),
            "sources[0].split",
            "train, validation, test, auto",
        ),
        (lambda c: c["sources"].append(dict(c["sources"][0])), "sources[1].name", "duplicate"),
        (lambda c: c["dataset"].pop("name"), "dataset.name", "required"),
        (
            lambda c: c["sources"][0].update(metadata_fields=["topic", "topic"]),
            "sources[0].metadata_fields[1]",
            "listed twice",
        ),
        (
            lambda c: c["sources"][0].update(metadata_fields=["trace"]),
            "sources[0].metadata_fields[0]",
            "the build's trace",
        ),
        (
            lambda c: c["sources"][0].update(license="MIT", metadata_fields=["x", "license"]),
            "sources[0].metadata_fields[1]",
            "set by license",
        ),
        (
            lambda c: c["sources"][0].update(metadata={"team": "a"}, metadata_fields=["team"]),
            "sources[0].metadata_fields[0]",
            "set by metadata",
        ),
        (
            lambda c: c["sources"][0].update(metadata_fields="topic"),
            "sources[0].metadata_fields",
            "list",
        ),
    ],
)
def test_config_errors_name_file_and_key(tmp_path: Path, mutate, key: str, message: str) -> None:
    config = _base(tmp_path)
    mutate(config)
    path = write_config(tmp_path / "pipeline.yaml", config)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == key
    assert message in info.value.message
    assert str(path) in str(info.value)


def test_missing_and_unparseable_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_cli_build_stops_on_config_error_before_touching_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from jsonl_assets.cli import main

    config = _base(tmp_path)
    config["output"] = {"compression": "brotli"}
    path = write_config(tmp_path / "pipeline.yaml", config)
    assert main(["build", "--config", str(path)]) == 2
    assert gc.isenabled()  # the set-up pauses the collector; an early return resumes it
    err = capsys.readouterr().err
    assert "output.compression" in err and str(path) in err
    assert not (tmp_path / "work").exists() and not (tmp_path / "package").exists()
    assert yaml.safe_load(path.read_text())  # the config itself is untouched


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ({}, False),
        ({"dir": "s3://bucket/package"}, True),
        ({"quarantine_dir": "s3://bucket/quarantine"}, True),
    ],
)
def test_uses_object_storage(tmp_path: Path, output: dict, expected: bool) -> None:
    # It decides whether a build tunes malloc for s3fs's part buffers (core/malloc_tuning.py).
    doc = _base(tmp_path) | {"output": output}
    cfg = load_config(write_config(tmp_path / "pipeline.yaml", doc))
    assert cfg.uses_object_storage() is expected


def _bounded_numbers() -> list[tuple[str, float, float | None, bool]]:
    """(dotted key, lower bound, upper bound, whether an integer) of every bounded number of
    the config's top-level sections, read from the models themselves."""
    from annotated_types import Ge, Le

    from jsonl_assets.core.config.models import Document

    out = []
    for section, info in Document.model_fields.items():
        model = info.annotation
        if not isinstance(model, type) or not hasattr(model, "model_fields"):
            continue
        for name, field in model.model_fields.items():
            annotation = field.rebuild_annotation()
            metas = [
                m
                for t in (annotation, *getattr(annotation, "__args__", ()))
                for m in getattr(t, "__metadata__", ())
            ]
            metas = [x for m in metas for x in (m, *getattr(m, "metadata", []))]
            ge = next((m.ge for m in metas if isinstance(m, Ge)), None)
            le = next((m.le for m in metas if isinstance(m, Le)), None)
            if ge is not None:
                is_int = "int" in str(annotation) and "float" not in str(annotation)
                out.append((f"{section}.{name}", ge, le, is_int))
    return out


@pytest.mark.parametrize(("key", "ge", "le", "is_int"), _bounded_numbers(), ids=lambda v: str(v))
def test_a_number_out_of_bounds_is_told_its_own_bounds(
    tmp_path: Path, key: str, ge: float, le: float | None, is_int: bool
) -> None:
    section, name = key.split(".")
    config = _base(tmp_path)
    config[section] = {name: ge - 1}
    path = write_config(tmp_path / "pipeline.yaml", config)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == key
    bounds = f"between {ge} and {le}" if le is not None else f">= {ge}"
    assert bounds in info.value.message
    assert ("integer" in info.value.message) == is_int


@pytest.mark.parametrize("command", ["build", "report"])
@pytest.mark.parametrize("given", ["--config", "env"])
def test_an_empty_config_path_is_refused_not_the_default_config(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    given: str,
) -> None:
    """`--config "$CFG"` / `JSONL_ASSETS_CONFIG="$CFG"` with CFG unset: a config error naming
    the empty setting, never a build of data/pipeline.yaml (here a decoy that would say so)."""
    from jsonl_assets.cli import main

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "pipeline.yaml").write_text("decoy: [\n")
    monkeypatch.chdir(tmp_path)
    if given == "env":
        monkeypatch.setenv(CONFIG_ENV_VAR, "")
        argv = [command]
        said = f"config error: ${CONFIG_ENV_VAR}: set but empty"
    else:
        monkeypatch.delenv(CONFIG_ENV_VAR, raising=False)
        argv = [command, "--config", ""]
        said = "config error: --config: empty path"
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(said) and err.count("\n") == 1, err
    assert "pipeline.yaml" not in err


def test_an_empty_config_path_is_refused_by_load_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_ENV_VAR, "")
    with pytest.raises(ConfigError, match=r"JSONL_ASSETS_CONFIG: set but empty"):
        load_config()
    with pytest.raises(ConfigError, match="empty path"):
        load_config("")


def test_verify_refuses_an_empty_package_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from jsonl_assets.cli import main

    monkeypatch.chdir(tmp_path)  # verify '' checked the current folder
    assert main(["verify", ""]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err == "verify: package_dir: empty path; name the package dir\n"
