"""A bad option is keyed down to the option, for every adapter and reader, however it is
found bad: by its type (`tolerance: true` was keyed `sources[0].options.tolerance.int`, the
union member pydantic tried, with pydantic's "Input should be a valid integer"), or by the
adapter's build (`answer_regex: '('` was keyed `sources[0].adapter`) or a reader's options
model (`delimiter: ';;'` was keyed `sources[0].read_options`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jsonl_assets.core.config import ConfigError, load_config

HEAD = "dataset: {name: t, description: d}\n"


def _error(tmp_path: Path, source: str) -> ConfigError:
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    (raw / "q.csv").write_text("question,answer\nwhat,4\n")
    (raw / "q.tsv").write_text("question\tanswer\nwhat\t4\n")
    (raw / "t.txt").write_text("Hello.\n")
    (raw / "a.jsonl").write_text('{"a": "x"}\n')
    path = tmp_path / "pipeline.yaml"
    path.write_text(HEAD + "sources:\n  - {name: s, split: train, " + source + "}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


QA = "paths: [raw/q.csv], objective: rft, adapter: qa_reference"
MAPPING_CPT = "paths: [raw/a.jsonl], objective: cpt, adapter: mapping"
MAPPING_RFT = "paths: [raw/a.jsonl], objective: rft, adapter: mapping"


@pytest.mark.parametrize(
    ("source", "key", "says"),
    [
        (QA + ", options: {answer_regex: '('}", "answer_regex", "does not compile"),
        (QA + ", options: {answers_separator: ''}", "answers_separator", "must not be empty"),
        (QA + ", options: {tolerance: -1}", "tolerance", "finite number >= 0"),
        (MAPPING_CPT + ", options: {objective: cpt, document: 'a..b'}", "document", "empty seg"),
        (MAPPING_CPT + ", options: {objective: cpt, document: d, user: '.u'}", "user", "empty"),
        (MAPPING_CPT + ", options: {objective: cpt, document: d, id: 'x..'}", "id", "empty"),
        (
            MAPPING_RFT + ", options: {objective: rft, user: u, answer: a, tolerance: -2}",
            "tolerance",
            "finite number >= 0",
        ),
    ],
)
def test_an_option_value_the_adapter_refuses_is_keyed_to_it(
    tmp_path: Path, source: str, key: str, says: str
) -> None:
    err = _error(tmp_path, source)
    assert err.key == f"sources[0].options.{key}", err
    assert says in err.message, err


@pytest.mark.parametrize(
    ("source", "says"),
    [
        (MAPPING_CPT + ", options: {objective: cpt}", "needs option(s) ['document']"),
        (
            "paths: [raw/a.jsonl], objective: preference, adapter: hh_rlhf, "
            "options: {chosen_field: x, rejected_field: x}",
            "must differ",
        ),
    ],
)
def test_options_that_do_not_fit_together_are_keyed_to_the_options(
    tmp_path: Path, source: str, says: str
) -> None:
    err = _error(tmp_path, source)
    assert err.key == "sources[0].options", err
    assert says in err.message, err


@pytest.mark.parametrize(
    ("source", "key"),
    [
        (QA + ", read_options: {delimiter: ';;'}", "delimiter"),
        (QA + ", read_options: {delimiter: '\\n'}", "delimiter"),
        (QA + ", read_options: {quotechar: ''}", "quotechar"),
        (
            "paths: [raw/q.tsv], objective: rft, adapter: qa_reference, "
            "read_options: {delimiter: ''}",
            "delimiter",
        ),
        (
            "paths: [raw/t.txt], objective: cpt, adapter: text, read_options: {max_chars: 0}",
            "max_chars",
        ),
    ],
)
def test_a_read_option_value_the_reader_refuses_is_keyed_to_it(
    tmp_path: Path, source: str, key: str
) -> None:
    err = _error(tmp_path, source)
    assert err.key == f"sources[0].read_options.{key}", err


def test_read_options_that_do_not_fit_together_are_keyed_to_the_read_options(
    tmp_path: Path,
) -> None:
    err = _error(tmp_path, QA + ", read_options: {delimiter: ';', quotechar: ';'}")
    assert err.key == "sources[0].read_options" and "must differ" in err.message, err


@pytest.mark.parametrize(
    ("value", "got"),
    [("true", "got bool true"), ("'1'", "got str '1'"), ("[1]", "got list [1]")],
)
def test_a_union_option_of_the_wrong_type_is_keyed_to_it_in_our_words(
    tmp_path: Path, value: str, got: str
) -> None:
    for source in (
        QA + f", options: {{grading: numeric, tolerance: {value}}}",
        MAPPING_RFT + f", options: {{objective: rft, user: u, answer: a, tolerance: {value}}}",
    ):
        err = _error(tmp_path, source)
        assert err.key == "sources[0].options.tolerance", err
        assert "option 'tolerance' must be a number (int or float)" in err.message, err
        assert err.message.endswith(got), err
        assert "Input should" not in err.message, err


def test_a_null_option_is_keyed_to_it_and_said_as_yaml_null(tmp_path: Path) -> None:
    err = _error(tmp_path, QA + ", options: {tolerance: ~}")
    assert err.key == "sources[0].options.tolerance", err
    assert "must not be null (YAML reads an empty value and a bare `~` as null)" in err.message
