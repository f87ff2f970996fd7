"""The rule table is the one place a record rule is declared: every error row of it is applied
by the build (quarantine) and by `verify`, and a row with its own check needs nothing else."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from jsonl_assets.core.build import build_partition
from jsonl_assets.core.config import load_config
from jsonl_assets.core.rules import walk_state
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES
from jsonl_assets.core.rules.table import ALL, ERROR, FINDINGS, MESSAGE, PART, RECORD, Finding
from jsonl_assets.core.verify.package import verify_package

from ...conftest import write_config

GOLDEN = Path(__file__).parents[2] / "golden" / "rule_messages.jsonl"
TOOLSETS = [
    {"id": "shop-tools", "tools": [{"name": "lookup_order", "description": "Fetch an order"}]},
    {"id": "other", "tools": [{"name": "weather", "description": "The weather"}]},
]
ASSETS = ("leaf-0042", "call-0007")
# The pipeline sets a record's id and metadata and parses its root: a record cannot reach the
# validated stage breaking these; the build has no asset index (D19 needs one).
NOT_IN_BUILD = frozenset({"D1.root", "D5.id", "D5.metadata", "D19.asset"})


def _pattern(finding: Finding) -> re.Pattern[str]:
    """The messages a row's template can make."""
    parts = re.split(r"(\{where\}|\{\d+\})", finding.template)
    return re.compile("".join(".*" if p.startswith("{") else re.escape(p) for p in parts))


def _one_case_per_error_row() -> dict[str, tuple[str, Any]]:
    """For each error row of the table: (objective, record) of the pinned rule corpus whose
    errors hold a message of that row (the case with the fewest errors)."""
    rows = [orjson.loads(line) for line in GOLDEN.read_bytes().splitlines()]
    cases: dict[str, tuple[int, str, Any]] = {}
    for key, finding in FINDINGS.items():
        if finding.severity != ERROR:
            continue
        pattern = _pattern(finding)
        for row in rows:
            if row.get("ctx") not in ("SHOP", "PLAIN") or "record" not in row:
                continue
            messages = [m for rule, _, m in row["errors"] if rule == finding.code]
            if any(pattern.fullmatch(m) for m in messages):
                best = cases.get(key)
                if best is None or len(row["errors"]) < best[0]:
                    cases[key] = (len(row["errors"]), row["objective"], row["record"])
    found = {key: (objective, record) for key, (_, objective, record) in cases.items()}
    return {**found, **MORE_CASES}


def _turn(role: str, *parts: Any) -> dict[str, Any]:
    return {"role": role, "content": list(parts) or [{"type": "text", "text": "hi"}]}


# Rows the pinned corpus breaks only under another context, and D11 (the native adapter turns
# a string content into a text part: a number stays).
MORE_CASES = {
    "D11.type": ("sft", {"messages": [{"role": "user", "content": 5}, _turn("assistant")]}),
    "D17.uri": (
        "sft",
        {"messages": [_turn("user", {"type": "image", "ref": {"uri": 5}}), _turn("assistant")]},
    ),
    "F4.label_type": (
        "preference",
        {
            "messages": [_turn("user")],
            "candidates": [
                {"label": "chosen", "messages": [_turn("assistant")]},
                {"label": "rejected", "messages": [_turn("assistant")]},
                {"label": 1, "messages": [_turn("assistant")]},
            ],
        },
    ),
}
CASES = _one_case_per_error_row()


def test_the_pinned_corpus_breaks_every_error_row() -> None:
    errors = {key for key, finding in FINDINGS.items() if finding.severity == ERROR}
    assert set(CASES) == errors


def _applied(keys: set[str], messages: list[str]) -> set[str]:
    return {key for key in keys if any(_pattern(FINDINGS[key]).search(m) for m in messages)}


def test_every_error_row_is_applied_by_verify(tmp_path: Path) -> None:
    files = []
    for objective in OBJECTIVES:
        lines = [orjson.dumps(r) for o, r in CASES.values() if o == objective]
        shard = tmp_path / "data" / f"{objective}-train-00000.jsonl"
        shard.parent.mkdir(parents=True, exist_ok=True)
        shard.write_bytes(b"".join(line + b"\n" for line in lines))
        files.append(
            {
                "split": "train",
                "objective": objective,
                "shards": [
                    {
                        "path": f"data/{shard.name}",
                        "compression": "none",
                        "record_count": len(lines),
                        "sha256": __import__("hashlib").sha256(shard.read_bytes()).hexdigest(),
                    }
                ],
            }
        )
    index = b"".join(orjson.dumps({"asset_id": a, "uri": f"s3://x/{a}"}) + b"\n" for a in ASSETS)
    (tmp_path / "assets.jsonl").write_bytes(index)
    meta = {
        "schema_version": "llm-training-data/v1",
        "dataset": {"name": "rules", "description": "one record per error row"},
        "files": files,
        "toolsets": TOOLSETS,
        "asset_index": {"path": "assets.jsonl", "format": "jsonl"},
    }
    (tmp_path / "metadata.json").write_bytes(orjson.dumps(meta))
    report = verify_package(tmp_path)
    messages = [f.message for f in report.findings if f.severity == ERROR]
    assert _applied(set(CASES), messages) == set(CASES)


def _rules_project(root: Path, cases: dict[str, tuple[str, Any]]) -> Path:
    sources = []
    for objective in OBJECTIVES:
        records = [r for o, r in cases.values() if o == objective]
        raw = root / "raw" / f"{objective}.jsonl"
        raw.parent.mkdir(parents=True, exist_ok=True)
        raw.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
        sources.append(
            {
                "name": f"{objective}_rules",
                "paths": [f"raw/{objective}.jsonl"],
                "objective": objective,
                "adapter": "native",
                "split": "train",
            }
        )
    config = {
        "dataset": {"name": "rules", "description": "one record per error row"},
        "output": {"dir": "package", "work_dir": "work", "quarantine_dir": "quarantine"},
        "thresholds": {"max_invalid_rate": 1.0, "max_duplicate_id_rate": 1.0},
        "toolsets": TOOLSETS,
        "sources": sources,
    }
    return write_config(root / "pipeline.yaml", config)


def _quarantined_messages(root: Path, cases: dict[str, tuple[str, Any]]) -> list[str]:
    cfg = load_config(_rules_project(root, cases))
    messages: list[str] = []
    for objective in sorted({o for o, _ in cases.values()}):
        build_partition(cfg, f"{objective}|train", helper_thread=False)
        path = root / "work" / objective / "train" / "quarantine" / "validated.jsonl"
        messages += [str(orjson.loads(line)) for line in path.read_bytes().splitlines()]
    return messages


def test_every_error_row_is_applied_by_the_build(tmp_path: Path) -> None:
    cases = {key: case for key, case in CASES.items() if key not in NOT_IN_BUILD}
    assert _applied(set(cases), _quarantined_messages(tmp_path, cases)) == set(cases)


def _declare(monkeypatch: pytest.MonkeyPatch, key: str, finding: Finding) -> None:
    """Add one row to the table for this test, and the plans the walk takes from it."""
    monkeypatch.setitem(FINDINGS, key, finding)
    for plans, warnings in ((walk_state.ERRORS_PLANS, False), (walk_state.PROBLEMS_PLANS, True)):
        for objective, plan in walk_state.plans(warnings).items():
            monkeypatch.setitem(plans, objective, plan)


NEW_ROWS = [
    ("X1.part", PART, "{where}: text says {0}", lambda p: ("boom",) if p.get("text") == "boom" else None),
    ("X2.message", MESSAGE, "{where}: name {0}", lambda m: (m["name"],) if m.get("name") == "bad" else None),
    ("X3.record", RECORD, "record: {0} messages", lambda r: (len(r["messages"]),) if len(r.get("messages", ())) == 3 else None),
]  # fmt: skip


@pytest.mark.parametrize(("key", "at", "template", "check"), NEW_ROWS, ids=[r[0] for r in NEW_ROWS])
def test_a_new_row_with_its_check_is_applied_by_build_and_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, at: str, template: str, check: Any
) -> None:
    _declare(monkeypatch, key, Finding(key.split(".")[0], ERROR, ALL, template, at, check))
    user = {"role": "user", "name": "bad", "content": [{"type": "text", "text": "boom"}]}
    record = {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "s"}]},
            user,
            {"role": "assistant", "content": [{"type": "text", "text": "fine"}]},
        ]
    }
    clean = {"messages": [user, {"role": "assistant", "content": [{"type": "text", "text": "no"}]}]}
    if at != RECORD:  # the clean record holds the bad message too
        clean = {"messages": clean["messages"][1:]}
    cases = {key: ("sft", record), "clean": ("sft", clean)}
    messages = _quarantined_messages(tmp_path / "build", cases)
    assert len(messages) == 1 and _applied({key}, messages) == {key}
    pkg = tmp_path / "pkg"
    shard = pkg / "data" / "sft-train-00000.jsonl"
    shard.parent.mkdir(parents=True)
    shard.write_bytes(orjson.dumps({"id": "r1", **record}) + b"\n")
    entry = {
        "path": "data/sft-train-00000.jsonl",
        "compression": "none",
        "record_count": 1,
        "sha256": __import__("hashlib").sha256(shard.read_bytes()).hexdigest(),
    }
    meta = {
        "schema_version": "llm-training-data/v1",
        "dataset": {"name": "rules", "description": "a new row"},
        "files": [{"split": "train", "objective": "sft", "shards": [entry]}],
    }
    (pkg / "metadata.json").write_bytes(orjson.dumps(meta))
    findings = [f for f in verify_package(pkg).findings if f.rule == key.split(".")[0]]
    assert len(findings) == 1 and findings[0].line == 1
