"""YAML values JSON cannot hold are config errors naming the file and the dotted key, raised
when the config is loaded (before any data is touched); the CLI prints one line and exits 2.

Each case is a real config file (YAML text, since most of these cannot be written with
`yaml.safe_dump`) beside a real source file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jsonl_assets.core.config import ConfigError, load_config

CLI = Path(sys.executable).parent / "jsonl-assets"

HEAD = """\
dataset: {name: t, description: d}
sources:
  - name: a
    paths: [raw/*.jsonl]
    objective: cpt
    adapter: text
    split: train
"""


def _project(tmp_path: Path, text: str) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "a.jsonl").write_text('{"text": "hello"}\n', encoding="utf-8")
    path = tmp_path / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _meta(block: str) -> str:
    """The head with `block` as the source's metadata mapping (indented under it)."""
    lines = "".join(f"      {line}\n" for line in block.splitlines())
    return HEAD + "    metadata:\n" + lines


CASES = [
    # (config text, dotted key, words of the message)
    (_meta("score: .nan"), "sources[0].metadata.score", "NaN"),
    (_meta("score: .inf"), "sources[0].metadata.score", "Infinity"),
    (_meta("score: -.Inf"), "sources[0].metadata.score", "Infinity"),
    (_meta("big: 123456789012345678901234567890"), "sources[0].metadata.big", "64 bits"),
    (_meta("blob: !!binary aGVsbG8="), "sources[0].metadata.blob", "binary"),
    (_meta("tags: !!set {a: null, b: null}"), "sources[0].metadata.tags", "set"),
    (_meta("when: 2024-01-01"), "sources[0].metadata.when", "quote"),
    (_meta("when: 2024-01-01 10:00:00"), "sources[0].metadata.when", "quote"),
    (_meta("1: one"), "sources[0].metadata.1", "string"),
    (_meta("true: yes-key"), "sources[0].metadata.true", "string"),
    (_meta("null: x"), "sources[0].metadata.null", "string"),
    (_meta("1.5: x"), "sources[0].metadata.1.5", "string"),
    (_meta("[a, b]: x"), "sources[0].metadata", "string"),
    (_meta("k: 1\nk: 2"), "sources[0].metadata.k", "duplicate"),
    (_meta("o: !!omap [{a: 1}, {b: 2}]"), "sources[0].metadata.o", "omap"),
    (_meta("p: !!pairs [{a: 1}, {a: 2}]"), "sources[0].metadata.p", "pairs"),
    (_meta("x: !!python/tuple [1, 2]"), "sources[0].metadata.x", "tag"),
    (_meta("x: !custom 1"), "sources[0].metadata.x", "tag"),
    (_meta("country: NO"), "sources[0].metadata.country", "quote"),
    (_meta("t: 1:30"), "sources[0].metadata.t", "quote"),
    (_meta("code: 0755"), "sources[0].metadata.code", "quote"),
    # YAML 1.1's binary integers and digit underscores: strings under YAML 1.2.
    (_meta("batch: 0b1010"), "sources[0].metadata.batch", "binary"),
    (_meta("batch: -0b1_0"), "sources[0].metadata.batch", "binary"),
    (_meta("code: 1_000"), "sources[0].metadata.code", "underscores"),
    (_meta("lot: 0x_1F"), "sources[0].metadata.lot", "underscores"),
    (_meta("grade: 1_0.5"), "sources[0].metadata.grade", "underscores"),
    (_meta("grade: 1.0_5"), "sources[0].metadata.grade", "underscores"),
    (_meta("code: +1_0"), "sources[0].metadata.code", "quote"),
    (HEAD + "limits: {max_record_bytes: 1_048_576}\n", "limits.max_record_bytes", "1048576"),
    (HEAD + "dataset: {name: u, description: e}\n", "dataset", "duplicate"),
    (HEAD.replace("name: a", "name: a\n    name: b"), "sources[0].name", "duplicate"),
    (
        HEAD + "toolsets:\n  - id: t\n    tools: [{name: f, parameters: {x: .nan}}]\n",
        "toolsets[0].tools[0].parameters.x",
        "NaN",
    ),
    # Recursive alias: would make a self-containing list.
    (_meta("loop: &l [*l]"), "sources[0].metadata.loop[0]", "alias"),
    # Explicit tags on text their constructor cannot read (IndexError/KeyError before).
    (_meta("x: !!int"), "sources[0].metadata.x", "not an integer"),
    (_meta("x: !!int '-'"), "sources[0].metadata.x", "not an integer"),
    (_meta("x: !!int '+'"), "sources[0].metadata.x", "not an integer"),
    (_meta("x: !!int '_'"), "sources[0].metadata.x", "not an integer"),
    (_meta("x: !!float ''"), "sources[0].metadata.x", "not a number"),
    (_meta("x: !!float"), "sources[0].metadata.x", "not a number"),
    (_meta("x: !!bool 'maybe'"), "sources[0].metadata.x", "not a boolean"),
    (_meta("x: !!bool maybe"), "sources[0].metadata.x", "not a boolean"),
    # !!null made null of any text, silently.
    (_meta("x: !!null 'abc'"), "sources[0].metadata.x", "!!null takes no value"),
    # Two merge keys in one mapping: the first one's values were dropped silently.
    (
        HEAD + "    <<: {license: mit}\n    <<: {license: cc0}\n",
        "sources[0].<<",
        "duplicate merge key",
    ),
]


@pytest.mark.parametrize(("text", "key", "words"), CASES, ids=[c[1] + ":" + c[2] for c in CASES])
def test_yaml_values_json_cannot_hold_are_config_errors(
    tmp_path: Path, text: str, key: str, words: str
) -> None:
    path = _project(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.file == str(path)
    assert info.value.key == key, info.value
    assert words.lower() in info.value.message.lower(), info.value


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 30):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    path = _project(tmp_path, _meta("\n".join(lines)))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key.startswith("sources[0].metadata")
    assert "aliases add more than 100000 values" in info.value.message


def test_explicit_null_and_bool_tags_on_their_own_words_still_load(tmp_path: Path) -> None:
    block = "a: !!null\nb: !!null ''\nc: ~\nd: !!null null\ne: !!bool 'TRUE'\nf: !!int '7'\n"
    cfg = load_config(_project(tmp_path, _meta(block)))
    assert cfg.sources[0].metadata == {
        "a": None,
        "b": None,
        "c": None,
        "d": None,
        "e": True,
        "f": 7,
    }


def test_deep_nesting_is_refused_before_libyaml_composes_it(tmp_path: Path) -> None:
    """30,000 nested `[` (60 KB): libyaml's composer recursed in C and the process died of a
    stack overflow (SIGSEGV) before the depth check; a subprocess, so a crash fails the test."""
    path = _project(tmp_path, HEAD + "defaults: " + "[" * 30_000 + "]" * 30_000 + "\n")
    code = (
        "import sys\nfrom jsonl_assets.core.config import ConfigError, load_config\n"
        "try:\n    load_config(sys.argv[1])\nexcept ConfigError as e:\n"
        "    print(e.key.split('[')[0], '|', e.message)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "defaults | nested deeper than 100 levels", run.stdout


def test_one_long_string_aliased_many_times_is_refused(tmp_path: Path) -> None:
    """1 MB written once and aliased 99,000 times: under the file cap and the 100,000-value
    alias cap, ~99 GB once expanded (the build serialises the config): refused by bytes."""
    text = HEAD + 'defaults:\n  big: &b "' + "a" * 1_000_000 + '"\n  x: ['
    path = _project(tmp_path, text + ", ".join(["*b"] * 99_000) + "]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key.startswith("defaults.x[")
    assert "aliases expanded, pass 8 MiB" in info.value.message
    # A few aliases of a long string are fine.
    cfg = load_config(_project(tmp_path / "ok", text + "*b, *b, *b]\n"))
    assert cfg.defaults is not None and len(cfg.defaults["x"]) == 3


def test_many_values_written_out_are_not_an_alias_bomb_and_a_huge_config_is_refused_at_once(
    tmp_path: Path,
) -> None:
    """The alias cap counts what aliases add: 150,000 values written out load; a config past
    the size cap is refused before it is parsed."""
    ones = ", ".join(["1"] * 150_000)
    cfg = load_config(_project(tmp_path / "a", _meta(f"big: [{ones}]")))
    assert len(cfg.sources[0].metadata["big"]) == 150_000
    with pytest.raises(ConfigError) as info:
        load_config(_project(tmp_path / "b", _meta(f"big: [{ones * 6}]")))
    assert "larger than 2 MiB" in info.value.message and "settings" in info.value.message


def test_merge_keys_and_small_aliases_are_allowed(tmp_path: Path) -> None:
    text = HEAD + (
        "    metadata: &m {origin: web, year: '2024-01-01'}\n"
        "  - <<: {objective: cpt, adapter: text, split: test}\n"
        "    name: b\n"
        "    paths: [raw/*.jsonl]\n"
        "    metadata: *m\n"
    )
    cfg = load_config(_project(tmp_path, text))
    assert [s.split for s in cfg.sources] == ["train", "test"]
    assert cfg.sources[1].metadata == {"origin": "web", "year": "2024-01-01"}
    assert cfg.sources[1].objective == "cpt"


def test_plain_json_values_still_load(tmp_path: Path) -> None:
    block = (
        "n: 18446744073709551615\nm: -9223372036854775808\nf: 1.5e+3\nb: true\n"
        "s: 'no'\nd: '2024-01-01'\nz: null\nhex: 0x1F\nl: [1, 2.5, x]\n"
    )
    cfg = load_config(_project(tmp_path, _meta(block)))
    assert cfg.sources[0].metadata == {
        "n": 18446744073709551615,
        "m": -9223372036854775808,
        "f": 1500.0,
        "b": True,
        "s": "no",
        "d": "2024-01-01",
        "z": None,
        "hex": 31,
        "l": [1, 2.5, "x"],
    }


def test_yaml11_only_numbers_quoted_and_ordinary_numbers_still_load(tmp_path: Path) -> None:
    block = "b: '0b1010'\nu: '1_000'\nx: \"0x_1F\"\ni: +12\nf: -0.5\ne: 1.0e+5\nw: _\n"
    cfg = load_config(_project(tmp_path, _meta(block)))
    assert cfg.sources[0].metadata == {
        "b": "0b1010",
        "u": "1_000",
        "x": "0x_1F",
        "i": 12,
        "f": -0.5,
        "e": 100000.0,
        "w": "_",
    }


def test_cli_prints_one_config_error_and_exits_2_before_any_data(tmp_path: Path) -> None:
    path = _project(tmp_path, _meta("score: .nan\nblob: !!binary aGVsbG8="))
    home = tmp_path / "dagster_home"
    home.mkdir()
    run = subprocess.run(
        [str(CLI), "build", "--config", str(path)],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().count("\n") == 0, run.stderr  # one line, no traceback
    assert "Traceback" not in run.stderr
    assert str(path) in run.stderr and "sources[0].metadata.score" in run.stderr
    assert not (tmp_path / "package").exists() and not (tmp_path / "work").exists()
