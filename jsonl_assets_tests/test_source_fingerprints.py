"""Source fingerprints on a real copy of the sample project: stat first, sha256 on change."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from jsonl_assets.core.build import build_partition, dirs_for
from jsonl_assets.core.config import load_config
from jsonl_assets.core.partition_state import BUILD, UP_TO_DATE, partition_state
from jsonl_assets.core.sensor_cursor import dump_cursor, load_cursor
from jsonl_assets.core.source_fingerprints import (
    changed_partitions,
    changed_sources,
    file_sha256,
    fingerprint_file,
    read_partition_version,
    sources_feeding,
    take_snapshot,
)
from jsonl_assets.core.stages.record_stages import stage_fingerprints
from jsonl_assets.defs.partitions import all_partition_keys

SFT = "raw/sft/support_chats.jsonl"  # split: auto, objective sft
RFT_TEST = "raw/rft/seedlings_test.jsonl"  # split: test, objective rft


def append_copy_of_first_line(path: Path) -> None:
    with open(path, "rb") as handle:
        first = handle.readline()
    with open(path, "ab") as handle:
        handle.write(first)


def bump_mtime(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


def test_keys_match_the_dagster_partitions(sample_project: Path) -> None:
    snap = take_snapshot(load_config(sample_project))
    assert list(snap.partition_versions()) == all_partition_keys()


def test_first_snapshot_hashes_every_file_and_the_next_none(sample_project: Path) -> None:
    cfg = load_config(sample_project)
    first = take_snapshot(cfg)
    files = {str(i.path) for s in cfg.sources for i in s.inputs}
    assert set(first.hashed) == files == set(first.files)
    for path, fp in first.files.items():
        assert fp.sha256 == hashlib.sha256(Path(path).read_bytes()).hexdigest()
        assert fp.size == Path(path).stat().st_size
    second = take_snapshot(cfg, first.files)
    assert second.hashed == ()
    assert second.partition_versions() == first.partition_versions()
    assert changed_partitions(first, second) == []


def test_touch_rehashes_but_changes_nothing(sample_project: Path) -> None:
    cfg = load_config(sample_project)
    first = take_snapshot(cfg)
    target = sample_project.parent / SFT
    bump_mtime(target)
    second = take_snapshot(cfg, first.files)
    assert second.hashed == (str(target.resolve()),)
    assert changed_partitions(first, second) == []
    assert second.files[str(target.resolve())].mtime_ns == target.stat().st_mtime_ns


def test_auto_source_reaches_its_three_splits(sample_project: Path) -> None:
    cfg = load_config(sample_project)
    first = take_snapshot(cfg)
    append_copy_of_first_line(sample_project.parent / SFT)
    second = take_snapshot(cfg, first.files)
    assert changed_sources(first, second) == ["support_chats"]
    assert changed_partitions(first, second) == ["sft|train", "sft|validation", "sft|test"]
    before, after = first.partition_versions(), second.partition_versions()
    assert [k for k in before if before[k] != after[k]] == changed_partitions(first, second)


def test_declared_split_reaches_one_partition(sample_project: Path) -> None:
    cfg = load_config(sample_project)
    first = take_snapshot(cfg)
    append_copy_of_first_line(sample_project.parent / RFT_TEST)
    second = take_snapshot(cfg, first.files)
    assert changed_sources(first, second) == ["seedlings_test"]
    assert changed_partitions(first, second) == ["rft|test"]


def test_same_size_same_mtime_rewrite_is_caught_by_inode(sample_project: Path) -> None:
    """A file replaced by rename, keeping size and mtime (rsync -t, cp -p), is re-hashed."""
    cfg = load_config(sample_project)
    first = take_snapshot(cfg)
    target = sample_project.parent / RFT_TEST
    data = target.read_bytes()
    st = target.stat()
    replacement = target.with_suffix(".new")
    replacement.write_bytes(data.replace(b"a", b"b", 1))
    os.utime(replacement, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(replacement, target)
    assert target.stat().st_size == st.st_size
    second = take_snapshot(cfg, first.files)
    assert changed_partitions(first, second) == ["rft|test"]


def test_config_entry_change_counts_as_a_change(sample_project: Path) -> None:
    first = take_snapshot(load_config(sample_project))
    data = yaml.safe_load(sample_project.read_text())
    for source in data["sources"]:
        if source["name"] == "garden_notes":
            source["license"] = "CC-BY-4.0"
    sample_project.write_text(yaml.safe_dump(data, sort_keys=False))
    second = take_snapshot(load_config(sample_project), first.files)
    assert second.hashed == ()
    assert changed_partitions(first, second) == ["cpt|train", "cpt|validation", "cpt|test"]


def test_moved_source_reaches_old_and_new_partitions(sample_project: Path) -> None:
    first = take_snapshot(load_config(sample_project))
    data = yaml.safe_load(sample_project.read_text())
    for source in data["sources"]:
        if source["name"] == "seedlings_test":
            source["split"] = "validation"
    sample_project.write_text(yaml.safe_dump(data, sort_keys=False))
    second = take_snapshot(load_config(sample_project), first.files)
    assert changed_partitions(first, second) == ["rft|validation", "rft|test"]


def test_versions_do_not_depend_on_where_the_project_lives(
    sample_project: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "moved"
    sample_project.parent.rename(elsewhere)
    moved = take_snapshot(load_config(elsewhere / "pipeline.yaml"))
    elsewhere.rename(sample_project.parent)
    here = take_snapshot(load_config(sample_project))
    assert moved.partition_versions() == here.partition_versions()
    # rft|validation has no source: it still has a (constant) version.
    assert (
        here.partition_versions()["rft|validation"] == moved.partition_versions()["rft|validation"]
    )
    assert here.sources_for("rft|validation") == []


def test_cursor_round_trip(sample_project: Path, tmp_path: Path) -> None:
    snap = take_snapshot(load_config(sample_project))
    folder = tmp_path / "sensor"
    text = dump_cursor(snap, "abcd", 7, folder)
    assert len(text) < 300, text  # the cursor shown in the UI is short; the snapshot is a file
    cursor = load_cursor(text, folder)
    assert cursor is not None
    assert (cursor.epoch, cursor.generation) == ("abcd", 7)
    assert dict(cursor.snapshot.files) == dict(snap.files)
    assert dict(cursor.snapshot.sources) == dict(snap.sources)
    assert cursor.snapshot.partition_versions() == snap.partition_versions()
    assert dump_cursor(cursor.snapshot, "abcd", 7, folder, cursor.snapshot_file) == text
    assert [p.name for p in folder.iterdir()] == [cursor.snapshot_file]


def test_a_cursor_whose_snapshot_file_is_gone_means_new_baseline(
    sample_project: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "sensor"
    text = dump_cursor(take_snapshot(load_config(sample_project)), "abcd", 1, folder)
    for snapshot in folder.iterdir():
        snapshot.unlink()
    assert load_cursor(text, folder) is None


def test_unreadable_cursor_means_new_baseline(tmp_path: Path) -> None:
    assert load_cursor(None, tmp_path) is None
    assert load_cursor("", tmp_path) is None
    assert load_cursor("not json", tmp_path) is None
    assert load_cursor('{"format": 99}', tmp_path) is None
    assert load_cursor('{"format": 1, "files": {}}', tmp_path) is None  # the old format
    outside = '{"format": 2, "epoch": "e", "generation": 0, "snapshot": "../x.json"}'
    assert load_cursor(outside, tmp_path) is None


def test_hash_streams_large_files(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    block = bytes(range(256)) * 4096
    with open(path, "wb") as handle:
        for _ in range(3):
            handle.write(block)
        handle.write(b"tail")
    expected = hashlib.sha256(block * 3 + b"tail").hexdigest()
    assert file_sha256(path) == expected
    fp, read = fingerprint_file(path, None)
    assert read and fp.sha256 == expected and fp.size == 3 * len(block) + 4
    again, read_again = fingerprint_file(path, fp)
    assert again == fp and not read_again


def test_read_version_equals_the_observed_version(sample_project: Path) -> None:
    """`extracted` derives its data version from the files it read; with the same bytes it
    matches the snapshot, and a different sha256 gives another version."""
    cfg = load_config(sample_project)
    snap = take_snapshot(cfg)
    versions = snap.partition_versions()
    for key in all_partition_keys():
        files = [
            {"source": s.name, "file": rel, "sha256": sha, "bytes": size}
            for s in snap.sources_for(key)
            for rel, sha, size in s.files
        ]
        assert read_partition_version(cfg, key, files) == versions[key], key
        if files:
            files[0] = {**files[0], "sha256": "0" * 64}
            assert read_partition_version(cfg, key, files) != versions[key], key


def test_partial_snapshot_hashes_only_the_feeding_sources(sample_project: Path) -> None:
    cfg = load_config(sample_project)
    full = take_snapshot(cfg).partition_versions()
    for key, names in [("rft|test", ["seedlings_test"]), ("sft|validation", ["support_chats"])]:
        assert sources_feeding(cfg, key) == names
        part = take_snapshot(cfg, only=names)
        # Its one file (hashed already by the full snapshot: this process knows its sha256).
        assert len(part.files) == 1 and set(part.hashed) <= set(part.files)
        assert set(part.sources) == set(names)
        assert part.partition_versions()[key] == full[key]


def test_cursor_round_trip_with_paths_not_utf8(tmp_path: Path) -> None:
    """The sensor's snapshot is keyed by absolute path: a file name (or a project folder) not
    UTF-8 stopped every tick on `orjson` ("str is not valid UTF-8"). Its key is the shown path
    and the bytes' base64, read back to the same path (its fingerprint is found again)."""
    from jsonl_assets_tests.values_helpers import doc_line, make_cpt_project

    root = tmp_path / os.fsdecode(b"proj\xe9")
    (root / "raw").mkdir(parents=True)
    (root / "raw" / os.fsdecode(b"a\xff.jsonl")).write_bytes(doc_line(1) + b"\n")
    (root / "raw" / "a\\xff.jsonl").write_bytes(doc_line(2) + b"\n")
    snap = take_snapshot(load_config(make_cpt_project(root, ["raw/*.jsonl"])))
    folder = tmp_path / "sensor"
    cursor = load_cursor(dump_cursor(snap, "abcd", 1, folder), folder)
    assert cursor is not None
    assert dict(cursor.snapshot.files) == dict(snap.files)
    assert dict(cursor.snapshot.sources) == dict(snap.sources)
    assert len({rel for rel, _, _ in snap.sources["notes"].files}) == 2


ASCII_MODE = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}


@pytest.mark.parametrize("mode", [{}, ASCII_MODE], ids=["utf8", "ascii-mode"])
def test_snapshot_keys_round_trip_whatever_the_locale(mode: dict[str, str]) -> None:
    """The cursor's keys of object URLs (text: `é`, a NUL) and of local paths (bytes: one not
    UTF-8), in UTF-8 and in Python's ASCII mode: a URL holding `é` went through the locale's
    file system encoding and failed every tick in ASCII mode."""
    script = """
import os, sys
from jsonl_assets.core.source_fingerprints import key_path, path_key
names = ["s3://b/raw/caf\\u00e9.jsonl", "gs://b/n\\0ul.jsonl", "az://c/plain.jsonl",
         os.fsdecode(b"/d/caf\\xc3\\xa9/bad\\xff.jsonl"), "/d/a.jsonl"]
keys = [path_key(n) for n in names]
assert len(set(keys)) == len(names), keys
assert [key_path(k) for k in keys] == names, [key_path(k) for k in keys]
assert keys[0] == names[0] and keys[2] == names[2] and keys[4] == names[4]
print(sys.getfilesystemencoding(), "ok")
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_")} | mode
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ascii" if mode else "utf-8", "ok"]


def edit_config(config: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(config.read_text())
    edit(data)
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def record_stage_fingerprints(config: Path) -> dict[str, list[str]]:
    """What `build`'s up-to-date check compares, per partition: the fingerprints of its record
    stages (extracted, transformed, validated) for its inputs now."""
    cfg = load_config(config)
    fps = {k: stage_fingerprints(cfg, dirs_for(cfg, k)) for k in all_partition_keys()}
    return {k: [f[s] for s in ("extracted", "transformed", "validated")] for k, f in fps.items()}


def test_a_split_ratio_change_reaches_the_partitions_of_auto_sources_only(
    sample_project: Path,
) -> None:
    """The ratios decide which of its three partitions each record of a `split: auto` source
    lands in: a change reaches those partitions (sft and preference and cpt here), never a
    declared split's (rft)."""
    first = take_snapshot(load_config(sample_project))
    edit_config(sample_project, lambda d: d["splits"].update(validation=0.3))
    second = take_snapshot(load_config(sample_project), first.files)
    assert second.hashed == ()
    auto = ["sft", "preference", "cpt"]
    assert changed_partitions(first, second) == [
        k for k in all_partition_keys() if k.split("|")[0] in auto
    ]
    assert changed_sources(first, second) == ["garden_notes", "ranked_tips", "support_chats"]


def test_the_order_of_a_partitions_sources_is_part_of_its_version(sample_project: Path) -> None:
    """Records are written in config order and the first of two with one id wins: two sources
    of rft|train swapped make another partition (and only that one)."""
    edit_config(
        sample_project,
        lambda d: d["sources"].append({**d["sources"][2], "name": "more_seedlings"}),
    )
    first = take_snapshot(load_config(sample_project))
    assert [s.name for s in first.sources_for("rft|train")] == [
        "seedlings_train",
        "more_seedlings",
    ]

    def swap(d: dict[str, Any]) -> None:
        d["sources"][2], d["sources"][-1] = d["sources"][-1], d["sources"][2]

    edit_config(sample_project, swap)
    second = take_snapshot(load_config(sample_project), first.files)
    assert changed_partitions(first, second) == ["rft|train"]
    assert changed_sources(first, second) == ["more_seedlings", "seedlings_train"]
    # The cursor keeps the order: a restarted sensor compares the same versions.
    folder = sample_project.parent / "sensor"
    cursor = load_cursor(dump_cursor(second, "e", 0, folder), folder)
    assert cursor is not None
    assert cursor.snapshot.partition_versions() == second.partition_versions()


def test_a_partition_whose_sources_are_in_name_order_keeps_its_version(
    sample_project: Path,
) -> None:
    """The version of a partition fed by sources listed in name order (one source, say) is
    the name-sorted payload's of older versions: an upgrade leaves it as it was."""
    edit_config(
        sample_project,
        lambda d: d["sources"].append({**d["sources"][2], "name": "seedlings_z"}),
    )
    snap = take_snapshot(load_config(sample_project))
    sources = snap.sources_for("rft|train")
    assert [s.name for s in sources] == ["seedlings_train", "seedlings_z"]
    old = sorted([s.name, s.digest] for s in sources)
    canonical = orjson.dumps(old, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    assert snap.partition_versions()["rft|train"] == hashlib.sha256(canonical).hexdigest()[:16]


EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "split ratio": lambda d: d["splits"].update(test=0.2),
    "sources' order": lambda d: d["sources"].insert(0, d["sources"].pop(1)),
    "max_record_bytes": lambda d: d.update(limits={"max_record_bytes": 4096}),
    "global quality": lambda d: d.update(quality={"empty_assistant": "warn"}),
    "quality of another objective": lambda d: d.update(quality={"empty_document": "warn"}),
    "shard_by content_type": lambda d: d["output"].update(shard_by="content_type"),
    "toolsets and defaults.toolset_id": lambda d: d.update(
        toolsets=[{"id": "calc", "tools": [{"name": "add", "input_schema": {"type": "object"}}]}],
        defaults={"toolset_id": "calc"},
    ),
    "empty defaults": lambda d: d.update(defaults={}),  # before: build rebuilt, the sensor not
    "toolsets only": lambda d: d.update(
        toolsets=[{"id": "calc", "tools": [{"name": "add", "input_schema": {"type": "object"}}]}]
    ),
    "shard size": lambda d: d["output"].update(max_records_per_shard=7),
    "thresholds": lambda d: d["thresholds"].update(max_invalid_rate=0.5),
    "a source's license": lambda d: d["sources"][0].update(license="CC-BY-4.0"),
    # A source's own and an objective's thresholds decide no record either (before, a
    # source's own requested its partitions: the digest held its entry as written).
    "a source's thresholds": lambda d: d["sources"][0].update(thresholds={"max_invalid_rate": 0.5}),
    "an objective's thresholds": lambda d: d["thresholds"].update(
        per_objective={"sft": {"max_invalid_rate": 0.5}}
    ),
    # The global quality equal to a rule the sft source overrides anyway: its effective policy
    # is unchanged (before, its 3 partitions were requested too; the other sources' policies
    # hold the rule too, so theirs are rebuilt), and back; and one that differs.
    "global quality the source overrides": lambda d: d.update(quality={"empty_assistant": "warn"}),
    "global quality back, the override kept": lambda d: d.pop("quality"),
    "global quality other than the override": lambda d: d.update(
        quality={"empty_assistant": "keep"}
    ),
    "a source's quality as the global": lambda d: d["sources"][0].update(
        quality={"empty_assistant": "warn"}
    ),
    "a source's quality at the default": lambda d: d["sources"][0].update(
        quality={"empty_assistant": "quarantine"}
    ),
    # Equivalent rewrites of an entry: build reuses every partition, and the sensor too.
    "paths as a string": lambda d: d["sources"][0].update(paths=d["sources"][0]["paths"][0]),
    "empty metadata spelled out": lambda d: d["sources"][4].update(metadata={}),
    "keys reordered": lambda d: d["sources"].__setitem__(
        0, dict(reversed(d["sources"][0].items()))
    ),
}
# The config each edit starts from, when not the sample's.
BEFORE: dict[str, Callable[[dict[str, Any]], None]] = {
    "global quality the source overrides": EDITS["a source's quality as the global"],
    "global quality back, the override kept": lambda d: (
        EDITS["a source's quality as the global"](d),
        EDITS["global quality the source overrides"](d),
    ),
    "global quality other than the override": EDITS["a source's quality as the global"],
    "a source's quality as the global": EDITS["global quality the source overrides"],
}
# Edits that change no stage's fingerprint: the sensor must request nothing for them.
NO_RECORD_CHANGE = {
    "shard size",
    "thresholds",
    "a source's thresholds",
    "an objective's thresholds",
    "a source's quality as the global",
    "a source's quality at the default",
    "paths as a string",
    "empty metadata spelled out",
    "keys reordered",
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_the_sensor_rebuilds_what_build_would_rebuild(sample_project: Path, edit: str) -> None:
    """A config edit changes the version of a partition a source feeds exactly when it
    changes the fingerprints of its record stages, which `build` rebuilds and a publish
    refuses until rebuilt (a split ratio: only where a `split: auto` source feeds it)."""
    edit_config(sample_project, BEFORE.get(edit, lambda d: None))
    first = take_snapshot(load_config(sample_project))
    fps_before = record_stage_fingerprints(sample_project)
    edit_config(sample_project, EDITS[edit])
    second = take_snapshot(load_config(sample_project), first.files)
    fps_after = record_stage_fingerprints(sample_project)
    # Every partition, those no source feeds too (built empty, they are rebuilt by `build`
    # when a setting their stages hold changes; before, the sensor never requested them).
    rebuilt = [k for k in all_partition_keys() if fps_before[k] != fps_after[k]]
    assert changed_partitions(first, second) == rebuilt
    if edit in NO_RECORD_CHANGE:  # they decide no record (shards, checks, same policy)
        assert rebuilt == []
    if edit.startswith("global quality "):  # the sft source's own rule wins: not its three
        fed = [k for k in all_partition_keys() if sources_feeding(load_config(sample_project), k)]
        assert rebuilt == [k for k in fed if not k.startswith("sft|")]


def test_a_threshold_edit_requests_the_partition_a_check_stopped(
    sample_project: Path, tmp_path: Path
) -> None:
    """The parse check stopped cpt|train's pass after extracted; raising
    `max_parse_failure_rate` makes `build` run it (20 records written in the report's case),
    but the sensor requested nothing ("thresholds decide no record"). A threshold edit now
    requests the partitions `build` would run for it: held back by a check, not the others."""
    key = "cpt|train"
    with (sample_project.parent / "raw" / "cpt" / "garden_notes.jsonl").open("ab") as handle:
        handle.writelines(b"{not json %d\n" % i for i in range(40))
    assert build_partition(load_config(sample_project), key).shards is None  # stopped
    folder = tmp_path / "sensor"  # through the sensor's cursor, as a tick reads it
    cursor = load_cursor(
        dump_cursor(take_snapshot(load_config(sample_project)), "e", 0, folder), folder
    )
    assert cursor is not None
    before = cursor.snapshot
    edit_config(sample_project, lambda d: d["thresholds"].update(max_parse_failure_rate=0.5))
    cfg = load_config(sample_project)
    after = take_snapshot(cfg, before.files)
    assert partition_state(cfg, dirs_for(cfg, key)) == BUILD
    assert changed_partitions(before, after) == [key]
    # Built, it is up to date: a further threshold edit it still passes requests nothing.
    assert build_partition(cfg, key).shards is not None
    assert partition_state(cfg, dirs_for(cfg, key)) == UP_TO_DATE
    edit_config(sample_project, lambda d: d["thresholds"].update(max_parse_failure_rate=0.4))
    assert changed_partitions(after, take_snapshot(load_config(sample_project), after.files)) == []
    # Tightened below its rate: `build` runs it again (and the check fails), so it is requested.
    edit_config(sample_project, lambda d: d["thresholds"].update(max_parse_failure_rate=0.01))
    tight = load_config(sample_project)
    assert partition_state(tight, dirs_for(tight, key)) == BUILD
    assert changed_partitions(after, take_snapshot(tight, after.files)) == [key]
