"""A character YAML's reader refuses (a control character) and a byte that is not UTF-8 are
placed by line and column of the config file, like every other YAML error (they used to give
an offset in the whole text and PyYAML's `<unicode string>`); a `--config` that is a loop of
symlinks says so, not "config file not found"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from jsonl_assets.core.config import ConfigError, load_config
from jsonl_assets.core.config.text_places import place, reader_message

HEAD = 'dataset:\r\n  name: d\n  description: "caf\u00e9 \u2028x"\n'
SOURCE = "sources:\n  - {name: s, paths: raw/*.jsonl, objective: cpt, adapter: native, split: train"


def _error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path, list_files=False)
    return info.value


def _placed(error: ConfigError) -> tuple[int, int]:
    found = re.search(r"line (\d+), column (\d+)", error.message)
    assert found and "<unicode string>" not in error.message and "position" not in error.message
    return int(found[1]), int(found[2])


@pytest.mark.parametrize("char", ["\x07", "\x00", "\x1b", "\ufffe"])
def test_a_control_character_is_placed_by_line_and_column(tmp_path: Path, char: str) -> None:
    line = f'{SOURCE}, content_type: "\u00e9\u00e9a{char}b"}}\n'
    config = tmp_path / "c.yaml"
    config.write_text(HEAD + line, encoding="utf-8", newline="")
    error = _error(config)
    assert error.file == str(config)
    # the \u2028 inside the quoted description breaks a line for YAML too
    assert _placed(error) == (6, line.split("\n")[1].index(char) + 1), error


def test_the_pure_python_reader_is_placed_alike() -> None:
    text = 'a: 1\r\nb: "\u00e9\x07"\n'
    with pytest.raises(yaml.reader.ReaderError) as info:
        yaml.load(text, Loader=yaml.SafeLoader)
    assert reader_message(info.value, text).startswith("line 2, column 6: ")


def test_a_byte_that_is_not_utf8_is_placed(tmp_path: Path) -> None:
    config = tmp_path / "latin1.yaml"
    config.write_bytes(
        b'dataset:\n  name: d\n  description: "caf\xe9"\n' + SOURCE.encode() + b"}\n"
    )
    error = _error(config)
    assert _placed(error) == (3, 20) and "UTF-8" in error.message, error


def test_place_counts_yaml_line_breaks() -> None:
    assert place("") == "line 1, column 1"
    assert place("ab\r\ncd\re\x85\u2029\u00e9") == "line 5, column 2"


def test_a_symlink_loop_is_named(tmp_path: Path) -> None:
    (tmp_path / "l1.yaml").symlink_to(tmp_path / "l2.yaml")
    (tmp_path / "l2.yaml").symlink_to(tmp_path / "l1.yaml")
    error = _error(tmp_path / "l1.yaml")
    assert "loop of symlinks" in error.message and "not found" not in error.message, error


def test_a_missing_config_is_still_not_found(tmp_path: Path) -> None:
    assert "not found" in _error(tmp_path / "none.yaml").message


@pytest.mark.parametrize(
    ("line_one", "column"),
    [(b"\x07a: 1", 1), (b"ab\xff: 1", 3), (b'a: "\xc3\xa9\x1b"', 6)],
)
def test_a_byte_order_mark_is_no_column(tmp_path: Path, line_one: bytes, column: int) -> None:
    """YAML drops a leading BOM (its own marks do not count it): so do these places."""
    config = tmp_path / "bom.yaml"
    config.write_bytes(b"\xef\xbb\xbf" + line_one + b"\n")
    assert _placed(_error(config)) == (1, column)
