"""A config error says what to write instead, and that advice loads: a YAML syntax error is
one line placed by line and column of the file (it printed PyYAML's several lines naming
`<unicode string>`); a null where text is needed says that YAML read `~` or an empty value
as null (`output.dir: ~` meant the home dir); an unquoted `created_at` date was told to be
quoted, which then failed as a date without a time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jsonl_assets.core.config import ConfigError, load_config

SOURCES = (
    "sources:\n  - {name: s, paths: [raw/*.jsonl], objective: sft, adapter: chat, split: train}\n"
)


def _load(tmp_path: Path, text: str) -> ConfigError:
    (tmp_path / "raw").mkdir(exist_ok=True)
    (tmp_path / "raw" / "a.jsonl").write_text("{}\n")
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("dataset:\n  name: t\n   description: d\n", "line 3, column 15: mapping values"),
        ("dataset: {name: t\n", "line 2, column 1: did not find expected ',' or '}' (while "),
        ("a: 'x\n", "line 2, column 1: found unexpected end of stream"),
    ],
)
def test_a_yaml_syntax_error_is_one_line_placed_in_the_file(
    tmp_path: Path, text: str, where: str
) -> None:
    err = _load(tmp_path, text)
    assert "\n" not in str(err) and "<unicode string>" not in str(err), str(err)
    assert err.message.startswith("not valid YAML: ") and where in err.message, err.message


@pytest.mark.parametrize("value", ["~", "null", ""])
def test_a_null_path_says_how_yaml_made_it_null(tmp_path: Path, value: str) -> None:
    err = _load(
        tmp_path, f"dataset: {{name: t, description: d}}\noutput: {{dir: {value}}}\n" + SOURCES
    )
    assert err.key == "output.dir" and "got null" in err.message
    assert "bare `~`" in err.message and "home dir is '~', quoted" in err.message, err.message
    quoted = _load(tmp_path, "dataset: {name: t, description: d}\noutput: {dir: '~'}\n" + SOURCES)
    assert quoted.key == "output.dir" and "home dir" in quoted.message


@pytest.mark.parametrize(
    "written",
    [
        "2024-01-01",
        "2024-01-01 10:00:00",
        "'2024-01-01'",
        "'2024-01-01 10:00'",
        "2024-01-01T10:00:00+02:00",
    ],
)
def test_the_created_at_advice_loads(tmp_path: Path, written: str) -> None:
    """Unquoted, quoted without a time or a zone: the value the message suggests loads."""

    def config(value: str) -> str:
        return f"dataset: {{name: t, description: d, created_at: {value}}}\n" + SOURCES

    err = _load(tmp_path, config(written))
    assert err.key == "dataset.created_at"
    advice = re.findall(r"'([^']*)'\)$", err.message)
    assert advice, err.message
    (tmp_path / "pipeline.yaml").write_text(config(f"'{advice[0]}'"))
    assert load_config(tmp_path / "pipeline.yaml").dataset.created_at == advice[0]


def test_an_integer_past_64_bits_in_a_number_option_is_not_told_to_be_quoted(
    tmp_path: Path,
) -> None:
    # Quoting a number option (chunk_bytes) only swaps one refusal for another: the advice
    # names a smaller number first; quoting is for text that looks like a number (an id).
    head = "dataset: {name: t, description: d}\noutput: {chunk_bytes: " + "9" * 22 + "}\n"
    error = _load(tmp_path, head + SOURCES)
    assert error.key == "output.chunk_bytes"
    assert "does not fit in 64 bits" in error.message
    assert "a smaller number, or quoted if it is text" in error.message
