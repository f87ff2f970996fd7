"""Config values the loader used to take and the build (or the Dagster UI) then failed on are
config errors naming the file, the dotted key and the bound: integers past what their consumer
can hold (a C long, Dagster GraphQL's 32-bit Int), a codec that is not a text encoding, a
compression level with no compression."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jsonl_assets.core.config import ConfigError, load_config
from jsonl_assets_tests.conftest import write_config

HUGE = [2**31, 2**63 - 2, 2**63, 2**64 - 1]


def _config(tmp_path: Path, source: dict[str, Any] | None = None, **top: Any) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    (raw / "a.csv").write_text("id,text\n1,hello there\n", encoding="utf-8")
    (raw / "a.txt").write_text("para one\n\npara two\n", encoding="utf-8")
    entry = {"name": "s", "paths": "raw/*.csv", "objective": "cpt", "adapter": "text"}
    entry = {**entry, "split": "train", **(source or {})}
    config = {"dataset": {"name": "d", "description": "x"}, **top, "sources": [entry]}
    return write_config(tmp_path / "pipeline.yaml", config)


def _error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.file == str(path)
    return info.value


# (section, key, the loaded config's attribute): the CSV reader passes max_record_bytes to
# csv.field_size_limit (a C long: OverflowError mid-build); the UI's sensor query sends
# minIntervalSeconds as a 32-bit GraphQL Int.
BOUNDED = [
    ("limits", "max_record_bytes", "max_record_bytes"),
    ("sensor", "interval_seconds", "sensor_interval_seconds"),
]


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize(("section", "key", "attribute"), BOUNDED)
def test_a_value_past_its_consumers_int_is_a_config_error(
    tmp_path: Path, section: str, key: str, attribute: str, value: int
) -> None:
    error = _error(_config(tmp_path, **{section: {key: value}}))
    assert error.key == f"{section}.{key}"
    assert str(2**31 - 1) in error.message


@pytest.mark.parametrize(("section", "key", "attribute"), BOUNDED)
def test_a_value_at_the_bound_loads(tmp_path: Path, section: str, key: str, attribute: str) -> None:
    cfg = load_config(_config(tmp_path, **{section: {key: 2**31 - 1}}))
    assert getattr(cfg, attribute) == 2**31 - 1


@pytest.mark.parametrize("fmt", ["csv", "txt"])
@pytest.mark.parametrize("codec", ["base64", "hex", "zlib", "bz2", "rot13", "undefined", "uu"])
def test_a_codec_that_is_not_a_text_encoding_is_a_config_error(
    tmp_path: Path, fmt: str, codec: str
) -> None:
    source = {"paths": f"raw/*.{fmt}", "read_options": {"encoding": codec}}
    error = _error(_config(tmp_path, source))
    assert error.key == "sources[0].read_options.encoding"
    assert "not a text encoding" in error.message
    assert repr(codec) in error.message


@pytest.mark.parametrize("codec", ["utf-8", "UTF_8_SIG", "latin-1", "utf-16-le", "cp1252"])
def test_text_encodings_still_load(tmp_path: Path, codec: str) -> None:
    source = {"read_options": {"encoding": codec}}
    assert load_config(_config(tmp_path, source)).sources[0].read_options["encoding"]


@pytest.mark.parametrize("level", [0, 3, 19, 123456])
def test_a_level_without_compression_is_a_config_error(tmp_path: Path, level: int) -> None:
    error = _error(_config(tmp_path, output={"compression": "none", "level": level}))
    assert error.key == "output.level"
    assert "compression: none" in error.message


def test_no_compression_without_a_level_loads(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, output={"compression": "none"}))
    assert cfg.output.compression == "none"
    assert cfg.output.level is None
