"""DATACARD.md and report.html show the rates the build's blocking checks decided on, and the
thresholds it judged by: metadata.json's accounting records the files charged and unread (per
partition and per source, healthy sources too) and the thresholds, and one function
(rate_checks.evaluate_accounting) turns them into the gate's rates for the card and the page.
Thresholds changed in the config after the build do not re-judge the published package: the
card shows them marked "(config at report time)"."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from jsonl_assets.core.build import build_partition, publish
from jsonl_assets.core.config import load_config
from jsonl_assets.core.report import DATACARD, REPORT_HTML, report_dir, write_report
from jsonl_assets.core.report.datacard import render_datacard
from jsonl_assets.core.report.report_data import compute_report
from jsonl_assets.core.rules.rate_checks import evaluate_accounting
from jsonl_assets.core.rules.reject_reasons import PARSE_FAILURE_RATE
from jsonl_assets_tests.conftest import write_config

KEY = "cpt|train"


def _texts(tag: str, n: int) -> bytes:
    return b"".join(orjson.dumps({"text": f"{tag} {i}"}) + b"\n" for i in range(n))


def _config(root: Path, sources: list[dict[str, Any]], parse_max: float) -> Path:
    return write_config(
        root / "pipeline.yaml",
        {
            "dataset": {"name": "t", "description": "t", "license": "CC0-1.0"},
            "output": {"dir": "package"},
            "thresholds": {"max_parse_failure_rate": parse_max},
            "sources": [
                {"objective": "cpt", "adapter": "text", "split": "train", **s} for s in sources
            ],
        },
    )


def _card_row(card: str) -> str:
    return next(line for line in card.splitlines() if line.startswith("| cpt\\|train |"))


def test_card_and_page_show_the_gates_file_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3 files, one gzip whose deflate data does not decode: the gate counts 1 of 3 files
    unread (33.33%), and so do metadata.json, the card and report.html (they said 1 of 2
    and 0.25%: the healthy source's file was left out, the file rate ignored)."""
    monkeypatch.setenv("JSONL_ASSETS_REPORT", "1")
    (tmp_path / "raw" / "gz").mkdir(parents=True)
    (tmp_path / "raw" / "a.jsonl").write_bytes(_texts("plain", 300))
    (tmp_path / "raw" / "gz" / "ok.jsonl.gz").write_bytes(gzip.compress(_texts("ok", 100), mtime=0))
    bad = bytearray(gzip.compress(_texts("bad", 100), mtime=0))
    bad[10] ^= 0xFF  # the deflate data does not decode: the rest of the file is unread
    (tmp_path / "raw" / "gz" / "bad.jsonl.gz").write_bytes(bytes(bad))
    sources = [
        {"name": "plain", "paths": ["raw/a.jsonl"]},
        {"name": "gz", "paths": ["raw/gz/*.jsonl.gz"]},
    ]
    cfg = load_config(_config(tmp_path, sources, 0.6))
    gate = build_partition(cfg, KEY).evaluations[PARSE_FAILURE_RATE]
    publication = publish(cfg)
    assert publication.report is not None, publication.problems
    assert (gate.all_inputs.unread_files, gate.all_inputs.files) == (1, 3)

    doc = orjson.loads((cfg.output.dir / "metadata.json").read_bytes())
    entry = doc["extensions"]["x-jsonl-assets"]["accounting"][KEY]
    assert (entry["files"], entry["unread_files"]) == (3, 1)
    assert {n: (s["files"], s["unread_files"]) for n, s in entry["sources"].items()} == {
        "gz": (2, 1),
        "plain": (1, 0),
    }
    assert entry["thresholds"]["max_parse_failure_rate"] == 0.6
    # From metadata.json alone: the gate's counts and rates, partition and sources.
    accounted = evaluate_accounting(KEY, entry)[PARSE_FAILURE_RATE]
    assert accounted.all_inputs.rate == gate.all_inputs.rate == pytest.approx(1 / 3)
    assert [(c.scope, c.rate, c.threshold) for c in accounted.sources] == [
        (c.scope, c.rate, c.threshold) for c in gate.sources
    ]
    assert accounted.passed == gate.passed

    folder = report_dir(cfg)
    assert "1/401, 1/3 files unread = 33.33% (max 60.00%)" in _card_row(
        (folder / DATACARD).read_text()
    )
    row = next(r for r in publication.report.data["accounting"] if r["partition"] == KEY)
    assert row["parse_failure_rate"] == round(gate.all_inputs.rate, 6)
    assert (row["unread_files"], row["files"]) == (1, 3)
    page = (folder / REPORT_HTML).read_text()
    rates = page[page.index('<section id="rates">') :]
    cells = re.search(r"<td>cpt\|train</td>((?:<td[^>]*>[^<]*</td>)+)", rates)
    assert cells is not None and '<td>1 of 3</td><td class="n">33.33%</td>' in cells.group(1)


def _one_bad_line(root: Path, parse_max: float) -> Path:
    (root / "raw").mkdir(parents=True, exist_ok=True)
    (root / "raw" / "a.jsonl").write_bytes(_texts("d", 99) + b"{bad json\n")
    return _config(root, [{"name": "s", "paths": ["raw/a.jsonl"]}], parse_max)


def test_the_card_judges_by_the_builds_thresholds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lowering a threshold after the build does not make the card of the same package say
    FAILED: it keeps the build's thresholds and verdict; the config's are marked."""
    monkeypatch.setenv("JSONL_ASSETS_REPORT", "0")
    config = _one_bad_line(tmp_path, 0.05)
    cfg = load_config(config)
    build_partition(cfg, KEY)
    assert publish(cfg).manifest is not None
    lowered = load_config(_one_bad_line(tmp_path, 0.001))  # the same package, a new config
    card = write_report(lowered).datacard.read_text()
    assert _card_row(card).endswith("| 1/100 = 1.00% (max 5.00%) | 0/100 = 0.00% (max 5.00%) "
                                    "| 0/100 = 0.00% (max 5.00%) | 0/100 = 0.00% (max 5.00%) "
                                    "| passed |")  # fmt: skip
    assert "- Rate thresholds the build judged by (metadata.json), every partition: " \
        "max_parse_failure_rate 0.05," in card  # fmt: skip
    assert "- Global rate thresholds: max_parse_failure_rate 0.001, max_adapter_reject_rate " \
        "0.05, max_invalid_rate 0.05, max_duplicate_id_rate 0.05 (config at report time)." \
        in card  # fmt: skip
    assert "other thresholds than the build judged by for cpt|train (config at report time)" in card
    # A package whose metadata.json records no thresholds (an older build's): judged by the
    # config's, and the card says so.
    data = compute_report(cfg.output.dir)
    for row in data["accounting"]:
        del row["thresholds"]
        for source in row["sources"].values():
            source.pop("thresholds", None)
    old = _card_row(render_datacard(lowered, data).decode())
    assert "1/100 = 1.00% (max, config at report time 0.10%)" in old
    assert old.endswith("| FAILED (config at report time) |")
