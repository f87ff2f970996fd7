"""A build refused about its package dir (another dataset's package, files not ours) adds
nothing to it, on object storage too, where a pass stages its shards under a hidden prefix
of the package dir (`.jsonl-assets-staged/`, staged_shards.py); a shards step refused there
removes what an earlier pass staged in it.

Before: the refusal came from the shards step only, after the record pass had uploaded every
staged shard (and an `owner.json`) into the other dataset's package; it said "Nothing was
deleted or replaced" and left them there, and the owner's rebuilds kept them."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from jsonl_assets.core.build import build_partition, build_records, build_shards, dirs_for
from jsonl_assets.core.config import load_config
from jsonl_assets.core.stage_report import StageReport
from jsonl_assets.core.stages.staged_shards import STAGED_OBJECTS
from jsonl_assets.core.store.base import store_for
from jsonl_assets.core.store.package_files import ForeignFilesError, OtherDatasetError

from ...conftest import build_with_core, materialize, write_config
from ...object_server import ObjectServer, pending_uploads

KEY = "cpt|train"


def _project(root: Path, server: ObjectServer, name: str) -> Path:
    """Dataset `name`: local sources, its package `pkg` in the server's bucket, its own work
    and quarantine dirs."""
    (root / "raw").mkdir(parents=True, exist_ok=True)
    lines = "".join(f'{{"id": "{name}{i}", "text": "{name} note {i}"}}\n' for i in range(25))
    (root / "raw" / "notes.jsonl").write_text(lines, encoding="utf-8")
    return write_config(
        root / f"{name}.yaml",
        {
            "dataset": {"name": name, "description": f"the {name} dataset"},
            "output": {"dir": server.url("pkg"), "quarantine_dir": server.url(f"q-{name}"),
                       "work_dir": f"work-{name}", "max_records_per_shard": 10},
            "sources": [{"name": "notes", "paths": ["raw/*.jsonl"], "objective": "cpt",
                         "adapter": "text", "split": "train", "id_field": "id"}],
        },
    )  # fmt: skip


def _package(server: ObjectServer) -> dict[str, str]:
    """Every object under the package prefix (its version tag and size), and every upload
    begun there and not completed (where the backend lists them)."""
    store = store_for(server.url("pkg"))
    found = {key: f"{st.tag} {st.size}" for key, st in store.objects(server.bucket, "pkg/")}  # type: ignore[attr-defined]
    uploads = pending_uploads(store, server.url("pkg")) or []
    return found | {f"upload {key}": "" for key in uploads}


def _pass(_: StageReport, __: StageReport) -> bool:
    return True


def test_a_build_refused_for_another_datasets_package_adds_nothing_to_it(
    object_store: ObjectServer, tmp_path: Path
) -> None:
    build_with_core(_project(tmp_path, object_store, "alpha"))
    before = _package(object_store)
    beta = _project(tmp_path, object_store, "beta")
    cfg = load_config(beta)
    with pytest.raises(OtherDatasetError, match="names 'alpha', this config's dataset"):
        build_partition(cfg, KEY)
    assert _package(object_store) == before
    with dg.instance_for_test() as instance:  # the Dagster steps, as `jsonl-assets build` runs
        result = materialize(beta, instance, KEY)
        assert not result.success
        failures = [e for e in result.all_events if e.is_step_failure]
        assert len(failures) == 1
        error = failures[0].step_failure_data.error
        assert error is not None and "holds the package of another dataset" in error.message
    assert _package(object_store) == before
    # Told to replace it: staged and moved in.
    assert build_partition(cfg, KEY, replace_other_dataset=True).shards is not None
    assert not any(STAGED_OBJECTS in key for key in _package(object_store))


def test_files_not_ours_in_the_package_dir_refuse_the_build_before_it_stages(
    object_store: ObjectServer, tmp_path: Path
) -> None:
    store_for(object_store.url("pkg")).publish(object_store.url("pkg/notes.txt"), b"mine\n")
    before = _package(object_store)
    cfg = load_config(_project(tmp_path, object_store, "beta"))
    with pytest.raises(ForeignFilesError, match=r"notes\.txt"):
        build_partition(cfg, KEY)
    assert _package(object_store) == before


def test_a_refused_shards_step_removes_what_an_earlier_pass_staged(
    object_store: ObjectServer, tmp_path: Path
) -> None:
    """beta's pass staged its shards while the package dir was empty; then alpha published
    there. beta's shards step is refused and takes its staged objects away with it."""
    beta = load_config(_project(tmp_path, object_store, "beta"))
    dirs = dirs_for(beta, KEY)
    assert len(build_records(beta, dirs, gate=_pass)) == 3
    assert any(STAGED_OBJECTS in key for key in _package(object_store))
    build_with_core(_project(tmp_path, object_store, "alpha"))
    alphas = {k: v for k, v in _package(object_store).items() if STAGED_OBJECTS not in k}
    with pytest.raises(OtherDatasetError, match="names 'alpha'"):
        build_shards(beta, dirs)
    assert _package(object_store) == alphas
    # Told to: the pass runs again (its staged shards are gone) and the shards move in.
    assert build_partition(beta, KEY, replace_other_dataset=True).shards is not None
    assert not any(STAGED_OBJECTS in key for key in _package(object_store))


def test_the_build_chunks_job_refuses_before_its_merge_stages_and_replaces_when_told(
    s3: ObjectServer, tmp_path: Path
) -> None:
    """Before: besides the staged objects, the job's merge ignored the resource's
    `replace_other_dataset`: a run told to replace the package was refused all the same."""
    from jsonl_assets.defs.chunk_job import build_chunks

    build_with_core(_project(tmp_path, s3, "alpha"))
    before = _package(s3)
    beta = _project(tmp_path, s3, "beta")

    def run(replace: bool) -> dg.ExecuteInProcessResult:
        pipeline = {"config_path": str(beta), "replace_other_dataset": replace}
        with dg.instance_for_test() as instance:
            return build_chunks.execute_in_process(
                run_config={
                    "ops": {"plan": {"config": {"partition": KEY}}},
                    "resources": {"pipeline": {"config": pipeline}},
                },
                instance=instance,
                raise_on_error=False,
            )

    refused = run(replace=False)
    assert not refused.success
    failures = [e for e in refused.all_events if e.is_step_failure]
    assert [e.step_key for e in failures] == ["merge"]
    error = failures[0].step_failure_data.error
    assert error is not None and "holds the package of another dataset" in error.message
    assert _package(s3) == before
    assert run(replace=True).success
    added = set(_package(s3)) - set(before)
    assert added and all(key.startswith("pkg/data/cpt-train-") for key in added), added
