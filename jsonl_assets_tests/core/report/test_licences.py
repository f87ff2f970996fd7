"""The data card and report show the licences the published records carry (a record's own
`metadata.license` is kept by the build), counted, not the source's configured licence; the
counts are bounded and the same however the records were split between parts; and the card's
facts are the published metadata.json's, not the config's glob at report time."""

from __future__ import annotations

import copy
import hashlib
import re
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jsonl_assets.core.config import load_config
from jsonl_assets.core.report.bounded_counts import DIGEST_CHARS, KEY_CHARS, MAX_CHARS, is_key
from jsonl_assets.core.report.datacard import render_datacard
from jsonl_assets.core.report.html_report import render_html
from jsonl_assets.core.report.licences import MAX_VALUES, NONE, LicenceCounts, licence_key
from jsonl_assets.core.report.report_data import compute_report
from jsonl_assets.core.report.statistics import load_manifest, package_cells
from jsonl_assets_tests.conftest import build_with_core, write_config

_KEYS = st.one_of(st.integers(0, 80).map(lambda i: f"L{i:02d}"), st.just(NONE))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_KEYS, max_size=40), min_size=1, max_size=6), st.randoms())
def test_counts_do_not_depend_on_how_the_records_were_split(
    parts: list[list[Any]], rnd: Any
) -> None:
    whole = LicenceCounts()
    for key in (k for part in parts for k in part):
        whole.add(key)
    counted = []
    for part in parts:
        counts = LicenceCounts()
        for key in part:
            counts.add(key)
        counted.append(counts)
    rnd.shuffle(counted)
    merged = LicenceCounts()
    for counts in counted:
        merged.merge(counts)
    assert merged.to_json() == whole.to_json()
    assert len(whole.values) <= MAX_VALUES
    every = Counter(k for part in parts for k in part if k != NONE)
    assert whole.records == sum(len(p) for p in parts)
    assert whole.values == Counter({k: every[k] for k in sorted(every)[:MAX_VALUES]})


def test_a_long_licence_is_counted_under_its_start_and_digest() -> None:
    """Two licences that differ only past `MAX_CHARS` are two keys, each shown by its start
    (before: both were `x...x…`, one value). A key is bounded and is never a short value."""
    one, two = licence_key({"license": "x" * 500}), licence_key({"license": "x" * 499 + "y"})
    digest = hashlib.sha256(b"x" * 500).hexdigest()[:DIGEST_CHARS]
    assert one == "x" * MAX_CHARS + f"… (sha256 {digest})" and one != two
    assert two.startswith("x" * MAX_CHARS + "… (sha256 ") and len(one) == len(two) == KEY_CHARS
    assert is_key(one) and is_key("x" * MAX_CHARS) and not is_key("x" * MAX_CHARS + "…")
    assert licence_key({"license": one}) not in (one, two)  # a value shaped like a key
    assert licence_key({}) == NONE and licence_key({"license": 3}) != NONE


def _long_values(root: Path) -> Path:
    """Source `s` (licence A) with 3 records of licence B and 2 of none, A and B the same
    past 200 characters; an rft source with grading types G1 (1 record) and G2 (2)."""
    (root / "raw").mkdir()
    lines = []
    for i in range(5):
        meta = {"license": LONG_B} if i < 3 else {}
        lines.append(orjson.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                                {"role": "assistant", "content": "a"}],
                                   "metadata": meta}))  # fmt: skip
    (root / "raw" / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    lines = [
        orjson.dumps({"id": f"r{i}", "messages": [{"role": "user", "content": "q"}],
                      "reference": {"grading": {"type": t}, "answer": 1}})
        for i, t in enumerate([LONG_G + "1", LONG_G + "2", LONG_G + "2"])
    ]  # fmt: skip
    (root / "raw" / "r.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    source = {"adapter": "native", "split": "train"}
    return write_config(
        root / "pipeline.yaml",
        {
            "dataset": {"name": "longlic", "description": "long licences"},
            "output": {"dir": "package"},
            "sources": [
                {**source, "name": "s", "paths": ["raw/a.jsonl"], "objective": "sft",
                 "license": LONG_A},
                {**source, "name": "r", "paths": ["raw/r.jsonl"], "objective": "rft",
                 "id_field": "id"},
            ],
        },
    )  # fmt: skip


LONG_A, LONG_B, LONG_G = "x" * 201 + "A", "x" * 201 + "B", "y" * 201


@pytest.mark.parametrize("report", ["0", "1"])
def test_long_licences_and_grading_types_that_differ_past_200_characters_stay_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, report: str
) -> None:
    """Before: values were shortened to 200 characters before they were counted, so the
    report counted one licence (5 records) and one grading type (3), and the card, seeing the
    source's own (shortened) licence, had no line about the 3 records of another licence."""
    monkeypatch.setenv("JSONL_ASSETS_REPORT", report)
    cfg = load_config(_long_values(tmp_path))
    build_with_core(cfg.path)
    data = orjson.loads(orjson.dumps(compute_report(cfg.output.dir)))
    cells = {c["objective"]: c for c in data["cells"]}
    key = lambda v: licence_key({"license": v})  # noqa: E731
    assert cells["sft"]["licences"]["s"]["values"] == {key(LONG_A): 2, key(LONG_B): 3}
    assert cells["rft"]["grading_types"] == {key(LONG_G + "1"): 1, key(LONG_G + "2"): 2}
    card = render_datacard(cfg, data).decode()
    assert (
        f"- 3 of 5 records of `s` carry their own licence (`metadata.license`, kept), not the "
        f"source's `{LONG_A}`: `{key(LONG_B)}` 3." in card
    )
    # Statistics of an older version (a long value shortened to its start and `…`) are not
    # taken as they are: the shards are measured again.
    manifest = load_manifest(cfg.output.dir)
    old = copy.deepcopy(cells["rft"])
    old["grading_types"] = {LONG_G[:200] + "…": 3}
    shards = next(f["shards"] for f in manifest["files"] if f["objective"] == "rft")
    measured = {("rft", "train"): (sorted(s["sha256"] for s in shards), old)}
    again = {c.objective: c for c in package_cells(cfg.output.dir, manifest, 1, measured)}
    assert again["rft"].to_json()["grading_types"] == cells["rft"]["grading_types"]


def _chats(path: Path, n: int, licence: Any = None, every: int = 2) -> None:
    with path.open("wb") as f:
        for i in range(n):
            record: dict[str, Any] = {
                "messages": [
                    {"role": "user", "content": f"{path.name} q{i}"},
                    {"role": "assistant", "content": f"a{i}"},
                ]
            }
            if licence is not None and (every == 1 or i % every):
                record["metadata"] = {"license": licence}
            f.write(orjson.dumps(record) + b"\n")


def _config(root: Path, dataset_licence: str | None, source_licence: str | None) -> Path:
    dataset: dict[str, Any] = {"name": "lic", "description": "licence claims"}
    source: dict[str, Any] = {"name": "a", "paths": ["raw/*.jsonl"], "objective": "sft",
                              "adapter": "native", "split": "train"}  # fmt: skip
    if dataset_licence:
        dataset["license"] = dataset_licence
    if source_licence:
        source["license"] = source_licence
    return write_config(
        root / "pipeline.yaml",
        {"dataset": dataset, "output": {"dir": "package"}, "sources": [source]},
    )


def _sources_row(card: str) -> list[str]:
    line = next(x for x in card.splitlines() if x.startswith("| a |"))
    return [c.strip() for c in line.strip("|").split(" | ")]


@pytest.mark.parametrize("report", ["0", "1"])
def test_records_with_their_own_licence_are_shown_and_flagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, report: str
) -> None:
    # With the report on, the build's chunks count the licences; off, the shards are read.
    monkeypatch.setenv("JSONL_ASSETS_REPORT", report)
    (tmp_path / "raw").mkdir()
    _chats(tmp_path / "raw" / "a.jsonl", 40, "CC-BY-NC-4.0")
    cfg = load_config(_config(tmp_path, "CC0-1.0", "CC0-1.0"))
    build_with_core(cfg.path)
    data = orjson.loads(orjson.dumps(compute_report(cfg.output.dir)))
    card = render_datacard(cfg, data).decode()
    row = _sources_row(card)
    assert row[5:8] == ["`CC0-1.0`", "`CC-BY-NC-4.0` 20, `CC0-1.0` 20", "40"]
    assert (
        "- 20 of 40 records of `a` carry their own licence (`metadata.license`, kept), not the "
        "source's `CC0-1.0`: `CC-BY-NC-4.0` 20." in card
    )
    html = render_html(data, {}).decode()
    assert "<td>&quot;CC-BY-NC-4.0&quot; 20, &quot;CC0-1.0&quot; 20</td>" in html
    manifest = load_manifest(cfg.output.dir)
    for workers in (1, 2):
        assert [
            c.to_json()["licences"] for c in package_cells(cfg.output.dir, manifest, workers)
        ] == [c["licences"] for c in data["cells"]]


def test_no_configured_licence_and_every_record_has_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "raw").mkdir()
    _chats(tmp_path / "raw" / "a.jsonl", 30, "MIT", every=1)
    cfg = load_config(_config(tmp_path, None, None))
    build_with_core(cfg.path)
    card = render_datacard(cfg, compute_report(cfg.output.dir)).decode()
    assert _sources_row(card)[5:7] == ["not stated", "`MIT` 30"]
    assert "Licence not stated for" not in card
    assert "- The dataset's licence is not stated." in card


def test_the_card_counts_the_files_built_not_the_glob_now(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    _chats(tmp_path / "raw" / "one.jsonl", 20)
    build_with_core(_config(tmp_path, None, None))
    _chats(tmp_path / "raw" / "two.jsonl", 20)  # lands after the build
    cfg = load_config(tmp_path / "pipeline.yaml")
    assert len(cfg.sources[0].inputs) == 2
    card = render_datacard(cfg, compute_report(cfg.output.dir)).decode()
    assert "   - `a`: 1 file(s) read; format jsonl; patterns `raw/*.jsonl` (config at" in card
    assert _sources_row(card)[4] == "`raw/one.jsonl`"
    assert "- Licence not stated for 20 of 20 records of `a` (no `metadata.license`)." in card


def test_licences_that_differ_only_in_spaces_are_written_differently(
    tiny_package: Path, tiny_data: dict[str, Any]
) -> None:
    """The card's licence list tells `""` from `" "`, `"  "`, `"a  b"` from `"a b"` and a
    no-break space from a space (before: `""` and `" "` were both `` ` ` ``): spaces that would
    not show are escapes, by the rule report.html uses (markdown_text.visible_value)."""
    data = copy.deepcopy(tiny_data)
    values = ["", " ", "  ", "a b", "a  b", "a\u00a0b", "MIT ", "MIT"]
    for cell in data["cells"]:
        for counts in cell["licences"].values():
            counts["values"] = {v: 1 for v in values}
    card = render_datacard(load_config(tiny_package), data).decode()
    row = next(x for x in card.splitlines() if x.startswith("| chats |"))
    cell = [c.strip() for c in row.strip("|").split(" | ")][6]
    shown = re.sub(r" [0-9,]+(?=, |$)", "", cell).split(", ")
    assert shown == [
        '""', "`\\u0020`", "`\\u0020\\u0020`", "`MIT`", "`MIT\\u0020`",
        "`a\\u0020\\u0020b`", "`a b`", "`a\\u00a0b`",
    ]  # fmt: skip
    assert len(set(shown)) == len(values)


@pytest.mark.parametrize(
    ("configured", "exact"),
    [("L00", True), ("L17", True), ("L31", True), ("K", True), ("L305", True),
     ("L40", False), ("L31x", False), ("M", False)],
)  # fmt: skip
def test_the_count_of_records_with_their_own_licence_is_exact_when_it_is_known(
    tiny_package: Path, tiny_data: dict[str, Any], configured: str, exact: bool
) -> None:
    """70 licences: the 32 smallest by name are kept, the rest is `other`, which holds only
    strings past the largest kept (`L31`). So when the source's licence is kept, or sorts
    before `L31`, no `other` record carries it: the card gives the exact count (before: the
    kept values' sum, `up to` the exact count). Only past `L31` is the bound real."""
    counts = LicenceCounts()
    every = Counter({f"L{i:02d}": 1 + i % 5 for i in range(70)})
    for licence, n in every.items():
        counts.add(licence_key({"license": licence}), n)
    assert counts.other and len(counts.values) == MAX_VALUES
    data = copy.deepcopy(tiny_data)
    cells = [c for c in data["cells"] if "chats" in c["licences"]]
    for cell in cells:
        del cell["licences"]["chats"]
    cells[0]["licences"]["chats"] = counts.to_json()
    next(s for s in data["sources"] if s["name"] == "chats")["license"] = configured
    card = render_datacard(load_config(tiny_package), data).decode()
    line = next(x for x in card.splitlines() if "records of `chats` carry their own" in x)
    own = counts.records - every[configured]  # as the files hold them
    kept = sum(n for v, n in counts.values.items() if v != configured)
    bound = kept + counts.other  # when `other` may hold the source's licence
    expected = f"- {own:,} of " if exact else f"- {kept:,} (up to {bound:,}) of "
    assert line.startswith(expected + f"{counts.records:,} records of `chats`"), line
    assert counts.other_may_hold(configured) is not exact
