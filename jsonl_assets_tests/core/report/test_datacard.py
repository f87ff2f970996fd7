"""DATACARD.md: the dataset-card headings, sources with their configured licences ("not
stated" when the config has none) and the licences their records carry, and split and source
counts equal to the published shards'."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from jsonl_assets.core.config import load_config
from jsonl_assets.core.report.datacard import render_datacard
from jsonl_assets_tests.core.report.independent import published_records

HEADINGS = (
    "## Summary",
    "## Sources",
    "## Collection and processing",
    "## Splits",
    "## Known limitations",
    "## Quality checks and results",
)


def _table(card: str, heading: str) -> list[list[str]]:
    section = card.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in row.strip("|").split(" | ")] for row in rows[1:]]


def test_the_card_is_generated_from_config_and_package(
    tiny_package: Path, tiny_data: dict[str, Any]
) -> None:
    cfg = load_config(tiny_package)
    card = render_datacard(cfg, tiny_data).decode()
    positions = [card.index(h) for h in HEADINGS]
    assert positions == sorted(positions)
    records = published_records(cfg.output.dir)
    by_source: dict[str, int] = {}
    for recs in records.values():
        for r in recs:
            source = r["metadata"]["trace"]["source"]
            by_source[source] = by_source.get(source, 0) + 1
    sources = {row[0]: row for row in _table(card, "## Sources")}
    assert set(sources) == {"chats", "tips", "problems", "notes"}
    licences = {name: row[5] for name, row in sources.items()}
    assert licences == {
        "chats": "`CC-BY-4.0`",
        "tips": "not stated",
        "problems": "`MIT`",
        "notes": "`CC0-1.0`",
    }
    written = {name: row[6] for name, row in sources.items()}
    assert written == {
        "chats": f"`CC-BY-4.0` {by_source['chats']}",
        "tips": f"none {by_source['tips']}",
        "problems": f"`MIT` {by_source['problems']}",
        "notes": f"`CC0-1.0` {by_source['notes']}",
    }
    assert {name: int(row[7].replace(",", "")) for name, row in sources.items()} == by_source
    splits = _table(card, "## Splits")
    objectives = ["sft", "preference", "rft", "cpt"]
    for row in splits:
        split, counts = row[0], [int(v.replace(",", "")) for v in row[1:]]
        expected = [len(records.get((o, split), [])) for o in objectives]
        assert counts == [*expected, sum(expected)], split
    assert (
        f"Licence not stated for {by_source['tips']} of {by_source['tips']} records of `tips`"
        in card
    )
    assert "rft has no records in: validation, test." in card
    checks = {row[0]: row for row in _table(card, "## Quality checks and results")}
    assert checks["rft\\|train"][3].startswith("1/19 = 5.26%")  # invalid_rate: the F7 record
    assert all(row[-1] == "passed" for row in checks.values())
    assert "- Package verification: passed" in card


def test_configured_values_are_shown_as_values(
    tiny_package: Path, tiny_data: dict[str, Any]
) -> None:
    """The dataset's licence, id, contact and tags and each source's configured licence are
    values: shown as report.html shows them (markdown_text.visible_value, in code spans), so
    `MIT` + U+00A0 does not read `MIT`, nor the tag `a  b` read `a b` (before: prose, raw)."""
    data = copy.deepcopy(tiny_data)
    data["dataset"].update(
        license="MIT\u00a0", dataset_id="id ", contact="x\u3000y", tags=["a  b", "a b", "t\u00a0"]
    )
    for source in data["sources"]:
        source["license"] = "MIT\u00a0"
    card = render_datacard(load_config(tiny_package), data).decode()
    assert "- Licence: `MIT\\u00a0` (the dataset's" in card
    assert "- Dataset id: `id\\u0020`" in card and "- Contact: `x\\u3000y`" in card
    assert "- Tags: `a\\u0020\\u0020b`, `a b`, `t\\u00a0`" in card
    assert {row[5] for row in _table(card, "## Sources")} == {"`MIT\\u00a0`"}
    assert "\u00a0" not in card and "\u3000" not in card and "a  b" not in card
