"""Real materialisations of the stage assets on the sample data, and the six checks."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import dagster as dg
import orjson
import yaml

from jsonl_assets.core.build import dirs_for, read_marker_any
from jsonl_assets.core.config import load_config
from jsonl_assets.core.verify.package import verify_package
from jsonl_assets.defs import checks
from jsonl_assets.defs.assets import ALL_ASSETS
from jsonl_assets.defs.definitions import run_definitions
from jsonl_assets.defs.partitions import all_partition_keys
from jsonl_assets.defs.resources import PipelineResource

from .conftest import (
    build_with_core,
    materialize,
    published_quarantine,
    read_shard,
    shard_relpaths,
)

SAMPLE_PARTITIONS = [
    "sft|train",
    "sft|validation",
    "preference|train",
    "rft|train",
    "rft|test",
    "cpt|train",
]


def build_all(
    config: Path, instance: dg.DagsterInstance, keys: list[str] | None = None
) -> dg.ExecuteInProcessResult:
    for key in keys or all_partition_keys():
        result = materialize(config, instance, key)
        assert result.success, key
    return materialize(config, instance, None)


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def package_hashes(package: Path) -> dict[str, str]:
    return {
        str(p.relative_to(package)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(package.rglob("*"))
        if p.is_file()
    }


def test_code_location_has_five_assets_twelve_partitions_seven_checks() -> None:
    graph = run_definitions().resolve_asset_graph()
    materializable = {k.to_user_string() for k in graph.materializable_asset_keys}
    assert materializable == {"extracted", "transformed", "validated", "shards", "manifest"}
    # Plus the observable source asset the sensor and staleness use.
    assert {k.to_user_string() for k in graph.observable_asset_keys} == {"raw_sources"}
    for name in ("extracted", "transformed", "validated", "shards"):
        node = graph.get(dg.AssetKey(name))
        assert len(node.partitions_def.get_partition_keys()) == 12
        assert node.description
    assert graph.get(dg.AssetKey("manifest")).partitions_def is None
    check_names = {k.name for k in graph.asset_check_keys}
    assert check_names == {
        checks.PARSE_FAILURE_RATE,
        checks.ADAPTER_REJECT_RATE,
        checks.DUPLICATE_ID_RATE,
        checks.INVALID_RATE,
        checks.SHARDS_VERIFIED,
        checks.PACKAGE_VALID,
        checks.EMPTY_PARTITION,
    }
    for key in graph.asset_check_keys:
        spec = graph.get_check_spec(key)
        # Every check blocks but the empty-partition warning; a partitioned asset's checks
        # are partitioned like it, so each result carries its partition key.
        assert spec.blocking == (key.name != checks.EMPTY_PARTITION), key
        assert spec.partitions_def == graph.get(key.asset_key).partitions_def, key


def test_sample_builds_a_valid_deterministic_package(
    sample_project: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    result = build_all(sample_project, instance)
    assert result.success
    package = sample_project.parent / "package"
    metadata = orjson.loads((package / "metadata.json").read_bytes())
    built = {(f["objective"], f["split"]) for f in metadata["files"]}
    assert {
        ("sft", "train"),
        ("preference", "train"),
        ("rft", "train"),
        ("rft", "test"),
        ("cpt", "train"),
    } <= built
    report = verify_package(package, forbid_split_leakage=True)
    assert report.ok, report.findings[:5]
    # Every listed shard exists, every file in the package is listed.
    listed = {s["path"] for f in metadata["files"] for s in f["shards"]}
    assert shard_relpaths(package) == listed
    # Records carry their trace; paths are relative.
    first = read_shard(package / sorted(listed)[0])[0]
    trace = first["metadata"]["trace"]
    assert set(trace) >= {"source", "file", "sha256"} and not trace["file"].startswith("/")
    assert str(sample_project.parent) not in (package / "metadata.json").read_text()

    # The broken line, the duplicate and the invalid rft record are in quarantine with traces.
    quarantine = published_quarantine(package, sample_project.parent / "quarantine")
    parse = [
        orjson.loads(x) for x in quarantine["sft/train/extracted.jsonl"].read_bytes().splitlines()
    ]
    assert [(q["reason"], q["trace"]["file"], q["trace"]["line"]) for q in parse] == [
        ("parse_error", "raw/sft/support_chats.jsonl", 101)
    ]
    assert parse[0]["raw"].startswith('{"messages"')
    dup_files = [
        quarantine.get(f"sft/{s}/validated.jsonl") for s in ("train", "validation", "test")
    ]
    dups = [orjson.loads(x) for p in dup_files if p for x in p.read_bytes().splitlines()]
    assert [d["reason"] for d in dups] == ["duplicate_id"]
    assert dups[0]["kept"]["line"] == 18 and dups[0]["trace"]["line"] == 43
    invalid = [
        orjson.loads(x) for x in quarantine["rft/train/validated.jsonl"].read_bytes().splitlines()
    ]
    assert [(i["reason"], i["trace"]["line"]) for i in invalid] == [("schema:F7", 8)]

    # Accounting: read = written + quarantined for every partition (the shards step's
    # persisted result, which its `accounting` table shows); row count = records written.
    cfg = load_config(sample_project)
    for key in all_partition_keys():
        event = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("shards"), asset_partitions=[key]), limit=1
        ).records[0]
        meta = event.asset_materialization.metadata
        acc = read_marker_any(dirs_for(cfg, key), "shards.json")["report"]["extra"]["accounting"]
        assert acc["read"] == acc["written"] + acc["quarantined"]
        assert meta["dagster/row_count"].value == meta["records_out"].value == acc["written"]

    # A second build from a clean output is byte-identical, even without Dagster: the core
    # stages called directly (another path to the manifest's inputs) give the same bytes.
    first_hashes = package_hashes(package)
    second = tmp_path / "second"
    second.mkdir()
    import shutil

    shutil.copytree(sample_project.parent / "raw", second / "data" / "raw")
    shutil.copyfile(sample_project, second / "data" / "pipeline.yaml")
    build_with_core(second / "data" / "pipeline.yaml")
    assert package_hashes(second / "data" / "package") == first_hashes
    again = published_quarantine(second / "data" / "package", second / "data" / "quarantine")
    assert {k: p.relative_to(sample_project.parent) for k, p in quarantine.items()} == {
        k: p.relative_to(second / "data") for k, p in again.items()
    }  # the same content-addressed folders
    for logical, path in quarantine.items():
        assert path.read_bytes() == again[logical].read_bytes(), logical


def _with(config: Path, **changes: Any) -> Path:
    data = yaml.safe_load(config.read_text())
    for dotted, value in changes.items():
        node = data
        *path, last = dotted.split("__")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def test_parse_failure_rate_check_fails_and_blocks_downstream(
    sample_project: Path, instance: dg.DagsterInstance
) -> None:
    _with(sample_project, thresholds__max_parse_failure_rate=0.0)
    result = materialize(sample_project, instance, "sft|train")
    evaluation = check_results(result)[checks.PARSE_FAILURE_RATE]
    assert not evaluation.passed and "ABOVE" in evaluation.description
    assert evaluation.metadata["failed"].value == 1
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"extracted"}  # transformed, validated and shards never ran
    # The one pass computed them, but committed nothing of them but the transformed
    # quarantine (the pass's transformed report is kept for the shards step and the
    # publication, which decide the check again).
    work = sample_project.parent / "work" / "sft" / "train"
    assert sorted(p.name for p in work.iterdir() if not p.name.startswith(".")) == [
        "chunks",  # the chunk plan alone
        "extracted.json",
        "quarantine",
        "rate_gate.json",
        "raw_sources.fingerprints.json",  # the files' stats and sha256s
    ]
    assert sorted(p.name for p in (work / "quarantine").iterdir()) == [
        "extracted.jsonl",
        "transformed.jsonl",  # every input the check counted is on disk, whatever its stage
    ]
    # The files the check names (and `build` prints) exist and hold what it counted.
    report = evaluation.metadata[checks.RATE_REPORT].value
    named = [Path(p) for p in report["quarantine_files"]]
    assert named and all(p.is_file() for p in named), named
    held = [line for p in named for line in p.read_bytes().splitlines()]
    assert len(held) >= report["overall"]["failed"]


def test_a_failed_parse_check_names_the_quarantine_that_holds_what_it_counted(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    """A text chunk over `max_record_bytes` as written is `too_large` in the transformed stage
    and counts toward parse_failure_rate. The check's failure (as `build` prints it) names
    the transformed quarantine, which now exists (committed though the stage is not) and holds
    the rejected input with its detail, trace and raw."""
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.txt").write_text("short para\n\n" + "word " * 600 + "\n")
    config = tmp_path / "pipeline.yaml"
    source = {"name": "bk", "paths": ["raw/a.txt"], "objective": "cpt", "adapter": "text"}
    doc = {
        "dataset": {"name": "gated", "description": "a gated pass's quarantine"},
        "output": {"dir": "package"},
        "limits": {"max_record_bytes": 1024},
        "thresholds": {"max_parse_failure_rate": 0.4},
        "sources": [{**source, "split": "train", "read_options": {"max_chars": 4000}}],
    }
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = materialize(config, instance, "cpt|train")
    evaluation = check_results(result)[checks.PARSE_FAILURE_RATE]
    assert not evaluation.passed
    report = evaluation.metadata[checks.RATE_REPORT].value
    named = [Path(p) for p in report["quarantine_files"]]
    assert [p.name for p in named] == ["transformed.jsonl"] and named[0].is_file()
    (entry,) = [orjson.loads(line) for line in named[0].read_bytes().splitlines()]
    assert entry["reason"] == "too_large" and entry["trace"]["file"] == "raw/a.txt"
    assert "over the limit of 1024 bytes" in entry["detail"] and "word word" in entry["raw"]
    # The step's failure says where they are too.
    (failure,) = [
        e.dagster_event
        for e in instance.all_logs(result.run_id)
        if e.dagster_event is not None and e.dagster_event.is_step_failure
    ]
    message = failure.event_specific_data.error.message
    assert f"quarantined in {named[0]};" in message, message


def test_duplicate_and_invalid_rate_checks_fail_on_data_that_breaks_them(
    sample_project: Path, instance: dg.DagsterInstance
) -> None:
    _with(sample_project, thresholds__max_duplicate_id_rate=0.0, thresholds__max_invalid_rate=0.0)
    sft = check_results(materialize(sample_project, instance, "sft|train"))
    assert not sft[checks.DUPLICATE_ID_RATE].passed and sft[checks.INVALID_RATE].passed
    rft = check_results(materialize(sample_project, instance, "rft|train"))
    assert rft[checks.DUPLICATE_ID_RATE].passed and not rft[checks.INVALID_RATE].passed
    assert "1 of" in rft[checks.INVALID_RATE].description


def test_checks_pass_on_clean_data(sample_project: Path, instance: dg.DagsterInstance) -> None:
    result = materialize(sample_project, instance, "cpt|train")
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    assert set(check_results(result)) == {
        checks.PARSE_FAILURE_RATE,
        checks.ADAPTER_REJECT_RATE,
        checks.DUPLICATE_ID_RATE,
        checks.INVALID_RATE,
        checks.SHARDS_VERIFIED,
        checks.EMPTY_PARTITION,
    }
    shards = next(
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.materialization.asset_key == dg.AssetKey("shards")
    )
    written = shards.metadata["records_out"].value
    assert written and shards.metadata["dagster/row_count"].value == written
    content = shards.metadata["content"].value
    assert content.splitlines()[2].startswith(f"| cpt-train | {written} | ")


def test_shards_verified_fails_on_a_tampered_shard(
    sample_project: Path, instance: dg.DagsterInstance
) -> None:
    assert materialize(sample_project, instance, "cpt|train").success
    shard = sorted((sample_project.parent / "package" / "data").glob("cpt-train-*/cpt-train-*"))[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: the stage reuses its output, the check re-reads it
    shard.write_bytes(bytes(data))
    result = materialize(sample_project, instance, "cpt|train")
    evaluation = check_results(result)[checks.SHARDS_VERIFIED]
    assert not evaluation.passed
    assert "failed verification" in evaluation.description
    # And the manifest refuses a partition whose shards failed verification.
    manifest = materialize(sample_project, instance, None)
    assert not check_results(manifest)[checks.PACKAGE_VALID].passed
    assert not (sample_project.parent / "package" / "metadata.json").exists()


def test_package_valid_fails_on_cross_split_leakage(
    sample_project: Path, instance: dg.DagsterInstance
) -> None:
    # The same records declared as train by one source and test by another: content ids collide.
    raw = sample_project.parent / "raw" / "cpt"
    (raw / "copy").mkdir()
    (raw / "copy" / "notes_copy.jsonl").write_bytes((raw / "garden_notes.jsonl").read_bytes())
    data = yaml.safe_load(sample_project.read_text())
    notes = next(s for s in data["sources"] if s["name"] == "garden_notes")
    notes["split"] = "train"
    data["sources"].append(
        {**notes, "name": "notes_copy", "paths": ["raw/cpt/copy/*.jsonl"], "split": "test"}
    )
    sample_project.write_text(yaml.safe_dump(data, sort_keys=False))
    result = build_all(sample_project, instance, ["cpt|train", "cpt|test"])
    evaluation = check_results(result)[checks.PACKAGE_VALID]
    assert not evaluation.passed
    assert evaluation.metadata["leaked_ids"].value == 200
    assert not (sample_project.parent / "package" / "metadata.json").exists()


def test_failed_blocking_check_stops_the_manifest_in_the_same_run(
    sample_project: Path, instance: dg.DagsterInstance
) -> None:
    _with(sample_project, thresholds__max_duplicate_id_rate=0.0)
    result = dg.materialize(
        ALL_ASSETS,
        partition_key="sft|train",
        instance=instance,
        resources={"pipeline": PipelineResource(config_path=str(sample_project))},
        raise_on_error=False,
    )
    assert not result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "shards" not in materialized and "manifest" not in materialized
    assert not (sample_project.parent / "package" / "metadata.json").exists()


def test_a_failed_validated_check_keeps_the_staged_shards_out_of_the_package(
    sample_project: Path, instance: dg.DagsterInstance
) -> None:
    """The one pass stages its shards in the work dir; a failed blocking check on
    `validated` skips the `shards` step, so none reach the package. Once the threshold is
    relaxed (the stages' inputs are unchanged), the rerun reuses the three stages and the
    `shards` step moves the staged shards in."""
    _with(sample_project, thresholds__max_duplicate_id_rate=0.0)
    package = sample_project.parent / "package" / "data"
    work = sample_project.parent / "work" / "sft" / "train"
    first = materialize(sample_project, instance, "sft|train")
    assert not check_results(first)[checks.DUPLICATE_ID_RATE].passed
    materialized = {e.asset_key.to_user_string() for e in first.get_asset_materialization_events()}
    assert "shards" not in materialized
    assert not package.exists() or not list(package.glob("sft-train-*"))
    staged = sorted(p.name for p in (work / "staged" / "data").iterdir())
    assert staged and (work / "staged.json").is_file()

    _with(sample_project, thresholds__max_duplicate_id_rate=0.5)
    second = materialize(sample_project, instance, "sft|train")
    assert second.success
    meta = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in second.get_asset_materialization_events()
    }
    assert all(meta[k]["reused"].value for k in ("extracted", "transformed", "validated"))
    assert sorted(p.name for p in package.glob("sft-train-*/sft-train-*")) == staged
    assert not (work / "staged").exists() and not (work / "staged.json").exists()
    assert check_results(second)[checks.SHARDS_VERIFIED].passed


def test_a_partition_with_sources_but_no_record_raises_the_empty_partition_warning(
    sample_project: Path, instance: dg.DagsterInstance
) -> None:
    (sample_project.parent / "raw" / "rft" / "seedlings_test.jsonl").write_bytes(b"")
    result = materialize(sample_project, instance, "rft|test")
    assert result.success  # a warning never blocks
    empty = check_results(result)[checks.EMPTY_PARTITION]
    assert not empty.passed and empty.severity == dg.AssetCheckSeverity.WARN
    assert empty.partition == "rft|test"
    assert "no record was written" in (empty.description or "")
    # One that no source feeds passes it (test_checks_pass_on_clean_data: one with records).
    assert check_results(materialize(sample_project, instance, "rft|validation"))[
        checks.EMPTY_PARTITION
    ].passed


def test_validated_reports_the_bytes_it_accepted(
    sample_project: Path, instance: dg.DagsterInstance
) -> None:
    """`bytes_out (B)` of validated is the size of the lines it accepted (the shards' content,
    uncompressed), not 0; the shards step reports no `removed_orphans` (it removes nothing:
    unlisted shards go after the retention window)."""
    result = materialize(sample_project, instance, "sft|train")  # 2 of 247 quarantined
    assert result.success
    meta = {
        e.materialization.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    cfg = load_config(sample_project)
    marker = read_marker_any(dirs_for(cfg, "sft|train"), "shards.json")
    assert marker is not None
    accepted = sum(c["bytes"] for c in marker["report"]["extra"]["content"].values())
    validated = meta["validated"]
    assert validated["bytes_out (B)"].value == accepted
    assert 0 < accepted < validated["bytes_in (B)"].value
    assert "removed_orphans" not in meta["shards"]
