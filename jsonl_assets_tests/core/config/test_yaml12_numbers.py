"""A number YAML 1.2 (and JSON) writes is never silently text. PyYAML reads YAML 1.1, where
`1.5e3`, `1e-3` (an exponent without a dot or its sign) and `-.5` are strings: a source's
`metadata: {weight: 1.5e3}` gave every record the string "1.5e3", and `splits.validation:
1e-3` was refused as "must be a number ..., got '1e-3'". They are read as the floats they
are; `089` and `0o17`, integers in YAML 1.2 and strings in YAML 1.1, are refused naming the
key and what to write (as `0755` and `1_000` are)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jsonl_assets.core.config import ConfigError, load_config
from jsonl_assets.core.config.config_yaml import YamlProblem, load_strict

HEAD = "dataset: {name: t, description: d}\n"


def _config(tmp_path: Path, source_extra: str = "", extra: str = "") -> Path:
    (tmp_path / "raw").mkdir(exist_ok=True)
    (tmp_path / "raw" / "a.jsonl").write_text('{"messages": []}\n')
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        HEAD
        + "sources:\n  - {name: s, paths: [raw/*.jsonl], objective: cpt, adapter: native, "
        + f"split: train{source_extra}}}\n"
        + extra
    )
    return path


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.5e3", 1500.0),
        ("1e3", 1000.0),
        ("1e-3", 0.001),
        ("2E+5", 200000.0),
        ("+1e3", 1000.0),
        ("-.5", -0.5),
        (".5e3", 500.0),
        ("1.0e+3", 1000.0),  # YAML 1.1's own float: unchanged
    ],
)
def test_an_exponent_float_is_read_as_a_float(tmp_path: Path, text: str, value: float) -> None:
    cfg = load_config(_config(tmp_path, f", metadata: {{weight: {text}}}"))
    weight = cfg.sources[0].metadata["weight"]
    assert type(weight) is float and weight == value, weight


def test_an_exponent_float_is_a_number_in_a_numeric_key(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, extra="splits: {validation: 1e-3}\n"))
    assert cfg.validation_ratio == 0.001


def test_a_quoted_exponent_stays_a_string() -> None:
    assert load_strict("a: '1e3'\nb: \"1.5e3\"\nc: e3\nd: 1e\n") == {
        "a": "1e3",
        "b": "1.5e3",
        "c": "e3",
        "d": "1e",
    }


@pytest.mark.parametrize(("text", "number"), [("089", 89), ("-0099", -99), ("0o17", 15)])
def test_a_yaml12_integer_yaml11_reads_as_text_is_refused(
    tmp_path: Path, text: str, number: int
) -> None:
    with pytest.raises(YamlProblem) as info:
        load_strict(f"defaults:\n  n: {text}\n")
    assert info.value.key == "defaults.n"
    assert f"YAML 1.2 reads {text!r} as the number {number}" in info.value.message
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, f", metadata: {{zip: {text}}}"))
    assert err.value.key == "sources[0].metadata.zip", err.value
    assert f"quote it for the string ('{text}') or write {number}" in err.value.message
    quoted = load_config(_config(tmp_path, f", metadata: {{zip: '{text}'}}"))
    assert quoted.sources[0].metadata["zip"] == text


@pytest.mark.parametrize(("text", "number"), [("+0x1F", 31), ("-0x1", -1), ("-0x_f", -15)])
def test_a_signed_hex_number_is_refused(tmp_path: Path, text: str, number: int) -> None:
    """YAML 1.1 reads `+0x1F` as 31, YAML 1.2 (hex unsigned only) as the string "+0x1F": a
    source's `metadata: {build: +0x1F}` gave every record the number 31."""
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, f", metadata: {{build: {text}}}"))
    assert err.value.key == "sources[0].metadata.build", err.value
    assert f"YAML 1.1 reads {text!r} as a hexadecimal number ({number})" in err.value.message
    assert f"quote it for the string ('{text}')" in err.value.message
    quoted = load_config(_config(tmp_path, f", metadata: {{build: '{text}'}}"))
    assert quoted.sources[0].metadata["build"] == text


_Y12_INT = re.compile(r"[-+]?[0-9]+")
_Y12_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def _yaml12(text: str) -> object:
    """What YAML 1.2's core schema reads a plain number-like scalar as."""
    if _Y12_INT.fullmatch(text):
        return int(text)
    if re.fullmatch(r"0o[0-7]+", text):
        return int(text[2:], 8)
    if re.fullmatch(r"0x[0-9a-fA-F]+", text):
        return int(text[2:], 16)
    if _Y12_FLOAT.fullmatch(text):
        return float(text)
    return text


_BODIES = [
    "0",
    "1",
    "01",
    "08",
    "00",
    "0.",
    "0x1F",
    "0xF_F",
    "0o17",
    "0b10",
    "1_0",
    "0_1",
    "1:30",
    "1:30.5",
    ".5",
    "5.",
    "1.5",
    "0.5",
    "01.5",
    "090.5",
    "1e3",
    "1.e3",
    "1.5e+3",
    ".5e3",
    "1.5E-3",
    "1e",
    "e3",
    "1__",
    "0x",
    "0o",
    "0b",
]


@pytest.mark.parametrize("text", [sign + body for sign in ("", "+", "-") for body in _BODIES])
def test_a_number_is_read_as_yaml12_reads_it_or_refused(text: str) -> None:
    """Every YAML 1.1 number form YAML 1.2 reads differently (signed hex, octal, binary,
    base 60, underscores, `.5` vs `+.5`, ...) is read as YAML 1.2 does or refused."""
    try:
        value = load_strict(f"k: {text}\n")["k"]
    except YamlProblem:
        return
    expected = _yaml12(text)
    assert (type(value), value) == (type(expected), expected), text


@pytest.mark.parametrize("text", ["089", "-0099", "0o17"])
def test_a_yaml12_integer_key_is_refused_as_its_value_is(text: str) -> None:
    """`metadata: {089: x}` loaded as the string key "089" while `{k: 089}` is refused: YAML 1.2
    reads the key as an integer, so it is refused as one (`1e3:` already was)."""
    with pytest.raises(YamlProblem) as info:
        load_strict(f"metadata:\n  {text}: x\n")
    assert info.value.key == f"metadata.{text}"
    assert info.value.message == (
        f"mapping keys must be strings, got {text!r}, an integer in YAML 1.2; quote it ('{text}')"
    )
    quoted = load_strict(f"metadata:\n  '{text}': x\n  0o8: y\n")
    assert quoted == {"metadata": {text: "x", "0o8": "y"}}


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        (
            "dataset_id: 2e5",
            "dataset.dataset_id",
            "must be a non-empty string, got float '2e5' (read as 200000.0); quote it ('2e5')",
        ),
        (
            "tags: [v, 1e3]",
            "dataset.tags[1]",
            "must be a non-empty string, got float '1e3' (read as 1000.0); quote it ('1e3')",
        ),
        ("license: 12", "dataset.license", "must be a non-empty string, got int '12'; quote it"),
        ("contact: true", "dataset.contact", "got bool 'true'; quote it ('true')"),
    ],
)
def test_a_number_where_text_belongs_is_shown_as_written(
    tmp_path: Path, extra: str, key: str, message: str
) -> None:
    """Since `2e5` reads as a float, `dataset_id: 2e5` (which loaded before) is refused: the
    message said only "must be a non-empty string, got float", not the value the user wrote
    (as text, so they know) nor that quoting keeps it text."""
    path = _config(tmp_path)
    path.write_text(path.read_text().replace("description: d", f"description: d, {extra}"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.key == key, err.value
    assert message in err.value.message, err.value.message


def test_a_number_for_a_text_option_is_shown_as_written(tmp_path: Path) -> None:
    path = _config(tmp_path)
    text = path.read_text().replace(
        "objective: cpt, adapter: native", "objective: sft, adapter: alpaca"
    )
    path.write_text(text.replace("split: train", "split: train, options: {instruction_field: 1e3}"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.key == "sources[0].options.instruction_field", err.value
    assert "(written 1e3); quote it ('1e3')" in err.value.message, err.value.message
