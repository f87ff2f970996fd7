"""Every Markdown string the Dagster layer builds from data (the quarantine, accounting, shards
and files tables, the rate checks' tables and example traces, the manifest's problems) goes
through core/report/markdown_text.py: a hostile source file name adds no HTML, link, image,
heading, list item or table row to what the UI renders."""

from __future__ import annotations

from typing import Any

import pytest

from jsonl_assets.core.rules.rate_checks import RateCount, RateEvaluation
from jsonl_assets.defs import checks
from jsonl_assets.defs.ui_metadata import (
    accounting_table,
    quarantine_table,
    shards_table,
    table,
)

markdown_it = pytest.importorskip("markdown_it")

NAME = (
    "raw/x/a <img src=x onerror=alert(1)> [click](https:__evil.example) "
    "![i](https:__e.example_i.png)\r# Injected heading\r| x | y |\n- item\u200b.jsonl"
)
TRACE = {"file": NAME, "line": 31}


def _tokens(text: str) -> list[str]:
    """The token types markdown-it (GFM tables, raw HTML on) parses `text` into, inline ones
    included."""
    parser = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table")
    kinds = []
    for t in parser.parse(text):
        kinds.append(t.type)
        kinds.extend(c.type for c in t.children or [])
    return kinds


def _assert_inert(text: str, rows: int | None = None, items: int = 0) -> None:
    kinds = _tokens(text)
    for bad in ("html_inline", "html_block", "link_open", "image", "heading_open"):
        assert bad not in kinds, (bad, text)
    assert kinds.count("list_item_open") == items, text
    if rows is not None:
        assert kinds.count("tr_open") == rows, text  # the header row and the data rows
    assert "\u200b" not in text


def test_the_quarantine_accounting_and_shards_tables_escape_file_names() -> None:
    summary = {"by_reason": {"parse:json": 1, NAME: 2}, "examples": {"parse:json": [TRACE]}}
    _assert_inert(quarantine_table(summary), rows=3)
    counts = {"read": 3, "written": 1, "quarantined": 2, "unread_files": 1, "files": 2}
    per_source = {NAME: counts | {"quarantined_by_reason": {NAME: 2}}}
    _assert_inert(accounting_table(per_source), rows=2)
    shards = [{"path": NAME, "record_count": 1, "bytes": 9, "sha256": "ab" * 32}]
    _assert_inert(shards_table(shards), rows=2)
    _assert_inert(table([NAME], [[NAME]] * 3, max_rows=2), rows=3)


def _evaluation() -> RateEvaluation:
    source = RateCount(NAME, 31, 31, 0.0, {"parse:json": 31}, {"parse:json": TRACE}, 1, 1, (NAME,))
    overall = RateCount("partition", 31, 31, 0.0, {"parse:json": 31})
    return RateEvaluation("parse_failure_rate", "cpt|train", overall, (source,), (), overall)


def test_the_rate_checks_tables_and_example_traces_escape_file_names() -> None:
    metadata: Any = checks.rate_check(_evaluation()).metadata
    _assert_inert(metadata["per_source"].value, rows=3)
    examples = metadata["example_traces"].value
    _assert_inert(examples, items=1)
    assert "a \\<img src=x onerror=alert(1)\\>" in examples


def test_the_rate_checks_unread_files_cell_is_bounded() -> None:
    """A source of 20,000 unread files named every one in one table cell."""
    names = tuple(f"raw/f{i}.jsonl" for i in range(20_000))
    source = RateCount("s", 1, 20_000, 0.0, {"corrupt_file": 1}, {}, 20_000, 20_000, names)
    overall = RateCount("partition", 1, 20_000, 0.0, {"corrupt_file": 1})
    evaluation = RateEvaluation("parse_failure_rate", "cpt|train", overall, (source,), (), overall)
    cell = checks.rate_check(evaluation).metadata["per_source"].value
    assert len(cell) < 3000 and "and 19,980 more files" in cell


def test_the_package_checks_tables_escape_findings() -> None:
    finding = {"severity": "error", "rule": "D1", "file": NAME, "line": 2, "message": NAME}
    leak = {"splits": ["train", NAME], "first": TRACE, "second": TRACE}
    metadata: Any = checks.package_valid_check(1, 0, 1, [finding], [leak]).metadata
    _assert_inert(metadata["findings"].value, rows=2)
    _assert_inert(metadata["leakage_examples"].value, rows=2)
    result = {"passed": True, "shards": 1, "records": 1, "bad_shards": 0, "findings": [finding]}
    _assert_inert(checks.shards_verified_check(result).metadata["findings"].value, rows=2)


def test_the_package_check_description_names_the_first_errors() -> None:
    """The CLI prints the description: a refusal says which verify rules failed, not only
    `1 errors` (a warning listed first is not named; past three errors, a count)."""
    a4 = {"severity": "error", "rule": "A4", "file": "metadata.json", "line": None}
    a4["message"] = "dataset.name: is blank (no visible character): '\\u200b'"
    check = checks.package_valid_check(1, 0, 0, [a4], [])
    assert not check.passed
    assert check.description == (
        "1 errors, 0 warnings, 0 ids in two splits; errors: A4 metadata.json: dataset.name: "
        "is blank (no visible character): '\\u200b'"
    )
    warning = {"severity": "warning", "rule": "D2", "file": "s.jsonl", "line": 1, "message": "w"}
    errors = [
        {"severity": "error", "rule": f"D{i}", "file": "s\x1b.jsonl", "line": i, "message": "m"}
        for i in range(5)
    ]
    described = checks.package_valid_check(5, 1, 0, [warning, *errors], []).description or ""
    assert described.endswith(
        "errors: D0 s\\x1b.jsonl line 0: m; D1 s\\x1b.jsonl line 1: m; "
        "D2 s\\x1b.jsonl line 2: m; 2 more"
    )
    assert checks.package_valid_check(0, 1, 0, [warning], []).description == (
        "0 errors, 1 warnings, 0 ids in two splits"
    )
