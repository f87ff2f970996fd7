"""Nothing is lost without a failing check: every rejection counts toward a rate, every rate is
checked per partition and per source, on the inputs charged to that partition, and the
package's metadata.json carries the per-source accounting an auditor can reconcile.

Every test builds real files with the real `jsonl-assets build` (a subprocess, its own
Dagster home)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import yaml

from .conftest import published_quarantine, read_shard

CLI = Path(sys.executable).parent / "jsonl-assets"
QA_ROWS = 820
HEALTHY_ROWS = 20_000


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DAGSTER_HOME": str(root / ".dagster_home")}
    env.pop("JSONL_ASSETS_KILL_AT", None)
    return subprocess.run(
        [str(CLI), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _qa_line(i: int) -> bytes:
    return orjson.dumps(
        {"question": f"What is {i} + {i}?", "answer": f"{i} plus {i} is {2 * i}.\n#### {2 * i}"}
    )


def _config(root: Path, sources: list[dict[str, Any]], **top: Any) -> Path:
    config = {
        "dataset": {"name": "accounting", "description": "per-source checks"},
        "output": {"dir": "package", "max_records_per_shard": 5000},
        **top,
        "sources": sources,
    }
    path = root / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _questoin_project(root: Path, typo_thresholds: dict[str, float] | None = None) -> Path:
    """GSM8K-like rows: a small qa_reference source whose option names a field that only one
    row has (`Questoin`), beside a large healthy source of the same partition (rft|test)."""
    raw = root / "raw"
    raw.mkdir(parents=True)
    rows = [_qa_line(i) for i in range(QA_ROWS)]
    rows[0] = orjson.dumps({"Questoin": "What is 1 + 1?", "answer": "It is 2.\n#### 2"})
    (raw / "small_qa.jsonl.gz").write_bytes(gzip.compress(b"\n".join(rows) + b"\n", mtime=0))
    healthy = b"\n".join(_qa_line(QA_ROWS + i) for i in range(HEALTHY_ROWS)) + b"\n"
    (raw / "big_qa.jsonl").write_bytes(healthy)
    options = {"answer_regex": r"####\s*(.+?)\s*$", "grading": "numeric"}
    typo: dict[str, Any] = {
        "name": "small_qa",
        "paths": ["raw/small_qa.jsonl.gz"],
        "objective": "rft",
        "adapter": "qa_reference",
        "options": {**options, "question_field": "Questoin"},
        "split": "test",
    }
    if typo_thresholds is not None:
        typo["thresholds"] = typo_thresholds
    healthy_source = {
        "name": "big_qa",
        "paths": ["raw/big_qa.jsonl"],
        "objective": "rft",
        "adapter": "qa_reference",
        "options": options,
        "split": "test",
    }
    return _config(root, [typo, healthy_source])


def test_a_source_that_loses_its_records_fails_the_build_beside_a_healthy_one(
    tmp_path: Path,
) -> None:
    _questoin_project(tmp_path)
    run = _cli(tmp_path, "build", "--config", "pipeline.yaml", "--partition", "rft|test")
    print(run.stdout, run.stderr)
    assert run.returncode != 0, run.stdout
    assert not (tmp_path / "package" / "metadata.json").exists()
    err = run.stderr
    # One clear block: the check, the partition, the source, the numbers, the reason, an
    # example trace and the quarantine file; no Dagster stack trace without --verbose.
    assert "adapter_reject_rate" in err and "rft|test" in err and "small_qa" in err, err
    assert "819 of 820" in err, err
    assert "adapter:missing_field" in err and "raw/small_qa.jsonl.gz line 2" in err, err
    assert str(Path("work") / "rft" / "test" / "quarantine" / "transformed.jsonl") in err, err
    assert "Traceback" not in err and "DagsterAssetCheckFailedError" not in err, err


def test_a_per_source_threshold_relaxes_that_source_only(tmp_path: Path) -> None:
    _questoin_project(tmp_path, typo_thresholds={"max_adapter_reject_rate": 1.0})
    run = _cli(tmp_path, "build", "--config", "pipeline.yaml", "--partition", "rft|test")
    assert run.returncode == 0, run.stdout + run.stderr
    # The summary accounts for each source: read, written, quarantined by reason.
    assert "small_qa" in run.stdout and "adapter:missing_field 819" in run.stdout, run.stdout
    doc = orjson.loads((tmp_path / "package" / "metadata.json").read_bytes())
    sources = doc["extensions"]["x-jsonl-assets"]["accounting"]["rft|test"]["sources"]
    assert sources["small_qa"] == {
        "read": QA_ROWS,
        "written": 1,
        "quarantined": QA_ROWS - 1,
        "quarantined_by_reason": {"adapter:missing_field": QA_ROWS - 1},
        "files": 1,
        "unread_files": 0,
        "thresholds": {"max_adapter_reject_rate": 1.0},  # judged on its own: recorded
    }


def test_rates_are_counted_on_the_inputs_charged_to_the_partition(tmp_path: Path) -> None:
    """A wrong-format file (a CSV named .jsonl) in a `split: test` source beside a big
    `split: auto` source: the test partition holds the file's rejects and only the auto
    source's records routed to test, and the rate is counted on those."""
    raw = tmp_path / "raw"
    raw.mkdir()
    csv_rows = ["question,answer", *(f"what is {i}?,{i}" for i in range(300))]
    (raw / "wrong_format.jsonl").write_text("\n".join(csv_rows) + "\n", encoding="utf-8")
    lines = [orjson.dumps({"id": f"q{i}", **orjson.loads(_qa_line(i))}) for i in range(6000)]
    (raw / "auto.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    qa = {"adapter": "qa_reference", "options": {"answer_regex": r"####\s*(.+?)\s*$"}}
    _config(
        tmp_path,
        [
            {"name": "exported", "paths": ["raw/wrong_format.jsonl"], "objective": "rft", **qa}
            | {"split": "test"},
            {"name": "auto_qa", "paths": ["raw/auto.jsonl"], "objective": "rft", **qa}
            | {"split": "auto", "id_field": "id"},
        ],
        thresholds={"max_parse_failure_rate": 0.2},
        splits={"validation": 0.05, "test": 0.05},
    )
    run = _cli(tmp_path, "build", "--config", "pipeline.yaml", "--partition", "rft|test")
    assert run.returncode != 0, run.stdout + run.stderr
    # 301 lines of the file (header included) and the auto source's records routed to test.
    routed = _routed_to_test(tmp_path)
    total = 301 + routed
    assert 200 < routed < 400, routed
    assert f"301 of {total}" in run.stderr, run.stderr
    assert "parse_failure_rate" in run.stderr and "exported" in run.stderr, run.stderr


def _routed_to_test(root: Path) -> int:
    from jsonl_assets.core.record_ids import split_for_id

    return sum(split_for_id(f"auto_qa:q{i}", 0.05, 0.05) == "test" for i in range(6000))


def test_metadata_accounting_reconciles_with_shards_and_quarantine(tmp_path: Path) -> None:
    """An auditor's reconciliation: per partition and source, read = written + quarantined,
    written = the records found in the shards, quarantined by reason = the entries found in
    the quarantine files; all counted here, independently of the build."""
    raw = tmp_path / "raw"
    raw.mkdir()
    good = [_qa_line(i) for i in range(400)]
    bad = [b"{not json", b"[1, 2]", orjson.dumps({"answer": "#### 1"}), good[5]]
    (raw / "mixed.jsonl").write_bytes(b"\n".join(good + bad) + b"\n")
    (raw / "other.jsonl").write_bytes(b"\n".join(_qa_line(1000 + i) for i in range(50)) + b"\n")
    qa = {"adapter": "qa_reference", "options": {"answer_regex": r"####\s*(.+?)\s*$"}}
    _config(
        tmp_path,
        [
            {"name": "mixed", "paths": ["raw/mixed.jsonl"], "objective": "rft", **qa}
            | {"split": "auto"},
            {"name": "other", "paths": ["raw/other.jsonl"], "objective": "rft", **qa}
            | {"split": "train"},
        ],
    )
    run = _cli(tmp_path, "build", "--config", "pipeline.yaml")
    assert run.returncode == 0, run.stdout + run.stderr
    doc = orjson.loads((tmp_path / "package" / "metadata.json").read_bytes())
    accounting = doc["extensions"]["x-jsonl-assets"]["accounting"]

    written: Counter[tuple[str, str]] = Counter()
    for entry in doc["files"]:
        key = f"{entry['objective']}|{entry['split']}"
        for shard in entry["shards"]:
            for record in read_shard(tmp_path / "package" / shard["path"]):
                written[key, record["metadata"]["trace"]["source"]] += 1
    reasons: dict[tuple[str, str], Counter[str]] = {}
    published = published_quarantine(tmp_path / "package", tmp_path / "quarantine")
    for logical, path in published.items():
        objective, split, _ = logical.split("/")
        for line in path.read_bytes().splitlines():
            e = orjson.loads(line)
            reasons.setdefault((f"{objective}|{split}", e["trace"]["source"]), Counter())[
                e["reason"]
            ] += 1
    seen = set()
    for key, part in accounting.items():
        for name, acc in part["sources"].items():
            seen.add((key, name))
            assert acc["read"] == acc["written"] + acc["quarantined"], (key, name, acc)
            assert acc["written"] == written[key, name], (key, name, acc)
            assert acc["quarantined_by_reason"] == dict(reasons.get((key, name), {})), (key, name)
            assert acc["quarantined"] == sum(acc["quarantined_by_reason"].values())
        assert part["read"] == sum(a["read"] for a in part["sources"].values())
    assert {k for k, n in written.items() if n} <= seen
    assert set(reasons) <= seen
    # A parse error, a non-object and an adapter reject (charged to train), a duplicate.
    assert sum(sum(c.values()) for (_, name), c in reasons.items() if name == "mixed") == 4


def test_a_partition_whose_sources_are_all_empty_says_so(tmp_path: Path) -> None:
    """Empty files hold no records: the partition builds empty (the manifest tolerates empty
    partitions) and the build says which sources held nothing; with no record anywhere there
    is no package to publish, and the message says why instead of a traceback."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.jsonl").write_bytes(b"")
    (raw / "b.jsonl.gz").write_bytes(gzip.compress(b"", mtime=0))
    (raw / "good.jsonl").write_bytes(b"\n".join(_qa_line(i) for i in range(20)) + b"\n")
    qa = {"objective": "rft", "adapter": "qa_reference", "options": {"grading": "exact_match"}}
    empty = {"name": "empty_qa", "paths": ["raw/a.jsonl", "raw/b.jsonl.gz"], **qa, "split": "test"}
    good = {"name": "good_qa", "paths": ["raw/good.jsonl"], **qa, "split": "train"}

    _config(tmp_path, [empty])
    run = _cli(tmp_path, "build", "--config", "pipeline.yaml", "--partition", "rft|test")
    print(run.stdout, run.stderr)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr, run.stderr
    assert "no records" in run.stderr and "empty_qa" in run.stderr, run.stderr
    assert "raw/a.jsonl" in run.stderr and "raw/b.jsonl.gz" in run.stderr, run.stderr

    _config(tmp_path, [empty, good])
    run = _cli(tmp_path, "build", "--config", "pipeline.yaml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "rft|test: no records in empty_qa (raw/a.jsonl, raw/b.jsonl.gz)" in run.stdout
    doc = orjson.loads((tmp_path / "package" / "metadata.json").read_bytes())
    assert [(f["objective"], f["split"]) for f in doc["files"]] == [("rft", "train")]


def test_a_build_whose_every_record_was_quarantined_says_so(tmp_path: Path) -> None:
    """Records read and every one quarantined (by the reader, and by the validator): the build
    says how many were read and quarantined, the top reasons and where the quarantine is,
    never that the sources held no records."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.jsonl").write_bytes(b'{"text":"a","k":1,"k":2}\n[1]\n[2]\n')
    # A chat record calling a tool its toolset lacks: rejected by the validator (schema:E2).
    call = {"role": "assistant", "content": [{"type": "tool_call", "name": "nope",
            "call_id": "c1", "arguments": {}}]}  # fmt: skip
    chat = {"id": "n1", "toolset_id": "none", "messages": [{"role": "user", "content": "u"}, call]}
    (raw / "chat.jsonl").write_bytes(orjson.dumps(chat) + b"\n")
    text = {"name": "a", "paths": ["raw/a.jsonl"], "objective": "cpt", "adapter": "text"}
    native = {"name": "n", "paths": ["raw/chat.jsonl"], "objective": "sft", "adapter": "native"}
    loose = {"max_parse_failure_rate": 1, "max_invalid_rate": 1}
    _config(
        tmp_path,
        [{**text, "split": "train"}, {**native, "split": "train", "id_field": "id"}],
        splits={"validation": 0, "test": 0},
        thresholds=loose,
    )
    run = _cli(tmp_path, "build", "--config", "pipeline.yaml")
    print(run.stdout, run.stderr)
    said = run.stdout + run.stderr
    assert run.returncode != 0
    assert "held no records" not in said
    assert "the sources held 4 records and all 4 were quarantined" in said
    assert "not_an_object 2, duplicate_key 1, schema:" in said
    assert "cpt|train: 3 read, 3 quarantined, quarantine quarantine/cpt-train-" in said
    assert "sft|train: 1 read, 1 quarantined, quarantine quarantine/sft-train-" in said
    for folder in ("cpt-train-", "sft-train-"):
        assert [p for p in (tmp_path / "quarantine").iterdir() if p.name.startswith(folder)]
