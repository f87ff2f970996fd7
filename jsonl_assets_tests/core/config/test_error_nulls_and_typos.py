"""Config errors say a YAML null as YAML does and name the key the user misspelled.

An empty value or a bare `~` is YAML's null: it was shown as Python's None (`unknown adapter
'None'`, `must be one of sft, ...; got None`), now as null with where YAML finds one, as
`name:` already was. A misspelled required key (`nmae`) was reported only as the missing one
(`dataset.name: is required`), the key the user wrote never named."""

from __future__ import annotations

from pathlib import Path

import pytest

from jsonl_assets.core.config import ConfigError, load_config

NULL = "got null (YAML reads an empty value and a bare `~` as null)"
CONFIG = """\
dataset:
  name: t
  description: d
output:
  dir: package
  compression: gzip
sources:
  - name: s
    paths: [raw/a.jsonl]
    objective: cpt
    adapter: native
    split: train
"""


def _error(tmp_path: Path, old: str, new: str, extra: str = "") -> ConfigError:
    (tmp_path / "raw").mkdir(exist_ok=True)
    (tmp_path / "raw" / "a.jsonl").write_text('{"messages": []}\n')
    assert old in CONFIG
    path = tmp_path / "pipeline.yaml"
    path.write_text(CONFIG.replace(old, new) + extra)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


@pytest.mark.parametrize("null", ["", " ~", " null"])
@pytest.mark.parametrize(
    ("old", "key"),
    [
        ("adapter: native", "sources[0].adapter"),
        ("objective: cpt", "sources[0].objective"),
        ("split: train", "sources[0].split"),
        ("compression: gzip", "output.compression"),
    ],
)
def test_a_null_is_said_as_yaml_null(tmp_path: Path, null: str, old: str, key: str) -> None:
    err = _error(tmp_path, old, old.split(":")[0] + ":" + null)
    assert err.key == key, err
    assert NULL in err.message and "None" not in err.message, err


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("splits: {validation: ~}\n", "splits.validation"),
        ("limits: {max_record_bytes: ~}\n", "limits.max_record_bytes"),
        ("thresholds: {max_invalid_rate: ~}\n", "thresholds.max_invalid_rate"),
    ],
)
def test_a_null_number_is_said_as_yaml_null(tmp_path: Path, extra: str, key: str) -> None:
    err = _error(tmp_path, "", "", extra)
    assert err.key == key, err
    assert NULL in err.message and "None" not in err.message, err


def test_a_true_is_said_as_yaml_true(tmp_path: Path) -> None:
    err = _error(tmp_path, "objective: cpt", "objective: true")
    assert err.message.endswith("got true"), err


@pytest.mark.parametrize(
    ("old", "new", "key", "typo"),
    [
        ("  name: t", "  nmae: t", "dataset.name", "nmae"),
        ("    paths:", "    pahts:", "sources[0].paths", "pahts"),
        ("    adapter: native", "    adaptor: native", "sources[0].adapter", "adaptor"),
        ("    split: train", "    splt: train", "sources[0].split", "splt"),
    ],
)
def test_a_misspelled_required_key_is_named(
    tmp_path: Path, old: str, new: str, key: str, typo: str
) -> None:
    err = _error(tmp_path, old, new)
    assert err.key == key, err
    assert f"this mapping has the unknown key {typo!r} (misspelled?)" in err.message, err


def test_a_missing_key_without_a_typo_says_only_that(tmp_path: Path) -> None:
    err = _error(tmp_path, "  name: t\n", "")
    assert err.key == "dataset.name" and err.message == "is required", err
