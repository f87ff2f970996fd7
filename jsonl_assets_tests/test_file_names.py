"""A source file whose name is not valid UTF-8: the build goes on, and every output that names
the file (record traces, quarantine entries, the extracted report, metadata.json) keeps the
name losslessly: `file` shows it with each invalid byte escaped as `\\xNN`, and `file_b64`
holds the base64 of the name's raw bytes. Valid names are written exactly as before. A name
is its bytes on disk whatever the locale, and a file under a symlinked data folder is named
by the link (the same package wherever the link points)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml

from jsonl_assets.core.build import dirs_for
from jsonl_assets.core.chunks.plan import plan_chunks, recorded_chunk_plan
from jsonl_assets.core.config import load_config
from jsonl_assets_tests.test_restart import run_cli_build
from jsonl_assets_tests.values_helpers import (
    build,
    doc_line,
    make_cpt_project,
    quarantined,
    shard_records,
)


def test_a_non_utf8_file_name_is_kept_losslessly_in_every_output(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    bad_name = b"notes_\xff\xfe.jsonl"
    body = b"\n".join([doc_line(1), b"{not json", doc_line(2)]) + b"\n"
    (raw / os.fsdecode(bad_name)).write_bytes(body)
    (raw / "plain.jsonl").write_bytes(doc_line(3) + b"\n")
    config = make_cpt_project(tmp_path, ["raw/*.jsonl"])

    done = build(config)
    assert done.returncode == 0, done.stdout + done.stderr

    shown = "raw/notes_\\xff\\xfe.jsonl"
    b64 = base64.b64encode(b"raw/" + bad_name).decode()
    traces = {r["metadata"]["n"]: r["metadata"]["trace"] for r in shard_records(config)}
    assert traces[1] == {
        "source": "notes",
        "file": shown,
        "line": 1,
        "sha256": traces[1]["sha256"],
        "file_b64": b64,
    }
    assert traces[3]["file"] == "raw/plain.jsonl" and "file_b64" not in traces[3]
    assert base64.b64decode(traces[2]["file_b64"]) == b"raw/" + bad_name

    [entry] = quarantined(config)
    assert entry["reason"] == "parse_error"
    assert entry["trace"]["file"] == shown and entry["trace"]["file_b64"] == b64

    meta = orjson.loads((tmp_path / "package" / "metadata.json").read_bytes())
    files = {f["file"]: f for f in meta["extensions"]["x-jsonl-assets"]["source_files"]}
    assert files[shown]["file_b64"] == b64 and "file_b64" not in files["raw/plain.jsonl"]

    # The chunk plan records the file by its raw bytes, and reads it back the same.
    cfg = load_config(config)
    dirs = dirs_for(cfg, "cpt|train")
    plan = plan_chunks(cfg, dirs)
    assert recorded_chunk_plan(dirs, plan.fingerprint) == plan
    assert os.fsencode(plan.input(cfg, 0)[1].path).endswith(b"raw/" + bad_name)


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def _non_utf8_envs(tmp_path: Path) -> list[dict[str, str]]:
    """Environments in which Python's file system encoding is not UTF-8: a Latin-1 locale
    generated under tmp_path (LOCPATH, nothing system-wide), and Python's ASCII mode."""
    envs = [{"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}]
    if shutil.which("localedef"):
        locales = tmp_path / "locales"
        locales.mkdir()
        subprocess.run(  # exits 1 on mere warnings: the locale is then written all the same
            ["localedef", "-i", "en_US", "-f", "ISO-8859-1", str(locales / "en_US.ISO-8859-1")],
            capture_output=True,
            check=False,
        )
        envs.insert(0, {"LOCPATH": str(locales), "LC_ALL": "en_US.ISO-8859-1", "PYTHONUTF8": "0"})
    probe = [sys.executable, "-c", "import sys; print(sys.getfilesystemencoding())"]
    return [
        env
        for env in envs
        if subprocess.run(probe, env={**os.environ, **env}, capture_output=True, text=True)
        .stdout.strip()
        .lower()
        .replace("-", "")
        != "utf8"
    ]


def _locale_project(root: Path) -> Path:
    (root / "raw" / "été").mkdir(parents=True)
    (root / "raw" / "é.jsonl").write_bytes(doc_line(1) + b"\n")  # a UTF-8 name
    (root / os.fsdecode(b"raw/\xe9x.jsonl")).write_bytes(doc_line(2) + b"\n")  # not UTF-8
    (root / "raw" / "été" / "n.jsonl").write_bytes(doc_line(3) + b"\n")
    return make_cpt_project(root, ["raw/*.jsonl", "raw/été/*.jsonl"])


def test_names_and_globs_do_not_depend_on_the_locale(tmp_path: Path) -> None:
    envs = _non_utf8_envs(tmp_path)
    if not envs:
        pytest.skip("no non-UTF-8 file system encoding can be had here")
    reference = _locale_project(tmp_path / "utf8")
    done = run_cli_build(reference, env={"LC_ALL": "C.UTF-8"}, keys=("cpt|train",))
    assert done.returncode == 0, done.stdout + done.stderr
    expected = _tree(tmp_path / "utf8" / "package")
    meta = orjson.loads(expected["metadata.json"])
    files = {
        f["file"]: f.get("file_b64") for f in meta["extensions"]["x-jsonl-assets"]["source_files"]
    }
    b64 = base64.b64encode(b"raw/\xe9x.jsonl").decode()
    assert files == {"raw/é.jsonl": None, "raw/\\xe9x.jsonl": b64, "raw/été/n.jsonl": None}
    for n, env in enumerate(envs):
        config = _locale_project(tmp_path / f"other{n}")
        # Its messages in UTF-8 (read as text here); the file system encoding stays the env's.
        shown = {**env, "PYTHONIOENCODING": "utf-8:backslashreplace"}
        done = run_cli_build(config, env=shown, keys=("cpt|train",))
        assert done.returncode == 0, (env, done.stdout + done.stderr)
        assert _tree(config.parent / "package") == expected, env


def test_a_symlinked_data_folder_gives_the_same_package_wherever_it_points(
    tmp_path: Path,
) -> None:
    trees = []
    for project, data in (("p1", "data/corpus"), ("q/p2", "far/away/corpus")):
        (tmp_path / data).mkdir(parents=True)
        (tmp_path / data / "a.jsonl").write_bytes(b"{not json\n" + doc_line(1) + b"\n")
        (tmp_path / project).mkdir(parents=True)
        (tmp_path / project / "raw").symlink_to(tmp_path / data)
        config = make_cpt_project(tmp_path / project, ["raw/*.jsonl"])
        done = build(config)
        assert done.returncode == 0, done.stdout + done.stderr
        [entry] = quarantined(config)
        assert entry["trace"]["file"] == "raw/a.jsonl"
        trees.append(_tree(config.parent / "package"))
    assert trees[0] == trees[1]


def test_a_project_folder_and_a_parquet_file_not_utf8_build(tmp_path: Path) -> None:
    """polars takes paths as UTF-8 text: the work dir's Arrow files and a Parquet source under
    such a folder failed every partition ("an object without a read() method"), and the stage
    markers and the claim of the work dir could not be written."""
    import polars as pl

    from jsonl_assets.core.build import build_partition, publish
    from jsonl_assets.core.verify.package import verify_package

    root = tmp_path / os.fsdecode(b"proj\xe9")
    (root / "raw").mkdir(parents=True)
    (root / "raw" / "a.jsonl").write_bytes(doc_line(1) + b"\n{not json\n")
    with open(root / "raw" / os.fsdecode(b"b\xe9.parquet"), "wb") as handle:
        pl.DataFrame({"messages": [[{"role": "document", "content": "pq"}]]}).write_parquet(handle)
    cfg = load_config(make_cpt_project(root, ["raw/*.jsonl", "raw/*.parquet"]))
    build_partition(cfg, "cpt|train")
    result = publish(cfg)
    assert result.manifest.published
    report = verify_package(cfg.output.dir)
    assert report.error_count == 0
    assert len(shard_records(cfg.path)) == 2 and len(quarantined(cfg.path)) == 1


def test_the_polars_aliases_are_one_link_per_path_in_one_private_folder(tmp_path: Path) -> None:
    """Forked workers exit without atexit: a folder per process was left behind by every
    build. One folder of the user's own, private; the same path gets the same link."""
    import stat

    from jsonl_assets.core.polars_paths import polars_path

    plain = tmp_path / "plain.arrow"
    assert polars_path(plain) == str(plain)
    odd = tmp_path / os.fsdecode(b"w\xe9") / "ids.arrow"
    first, again = polars_path(odd), polars_path(odd)
    assert first == again and first.isascii() and first.endswith(".arrow")
    folder = Path(first).parent
    assert os.readlink(first) == str(odd)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and folder.stat().st_uid == os.getuid()
    odd.parent.mkdir()
    Path(first).write_bytes(b"through the link")
    assert odd.read_bytes() == b"through the link"


def _collision_project(root: Path, split: str = "train") -> Path:
    """`raw/bad<0xFF>.jsonl` (not UTF-8) and `raw/bad\\xff.jsonl` (a backslash, x, f, f): two
    files shown under the same name, told apart by the first one's `file_b64`."""
    raw = root / "raw"
    raw.mkdir(parents=True)
    (raw / os.fsdecode(b"bad\xff.jsonl")).write_bytes(doc_line(1) + b"\n" + doc_line(2) + b"\n")
    (raw / "bad\\xff.jsonl").write_bytes(doc_line(3) + b"\n")
    config = make_cpt_project(root, ["raw/*.jsonl"])
    raw_config = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw_config["sources"][0]["split"] = split
    config.write_text(yaml.safe_dump(raw_config, sort_keys=False), encoding="utf-8")
    return config


def test_two_files_whose_shown_names_coincide_are_two_files(tmp_path: Path) -> None:
    """Every partition read both, then the manifest took them for one file read in two
    versions ("a source file changed between the partitions that read it") and refused to
    publish on every build; past it, `source_files` would have kept one of the two."""
    from jsonl_assets.core.build import build_partition, publish
    from jsonl_assets.core.source_fingerprints import read_partition_version, take_snapshot

    config = _collision_project(tmp_path, split="auto")  # three partitions read both files
    cfg = load_config(config)
    keys = ["cpt|train", "cpt|validation", "cpt|test"]
    for attempt in range(2):  # and a rebuild publishes again
        for key in keys:
            build_partition(cfg, key)
        assert publish(cfg).manifest.published, attempt
    meta = orjson.loads((tmp_path / "package" / "metadata.json").read_bytes())
    files = meta["extensions"]["x-jsonl-assets"]["source_files"]
    b64 = base64.b64encode(b"raw/bad\xff.jsonl").decode()
    assert [(f["file"], f.get("file_b64"), f["bytes"]) for f in files] == [
        ("raw/bad\\xff.jsonl", None, len(doc_line(3)) + 1),
        ("raw/bad\\xff.jsonl", b64, len(doc_line(1)) + len(doc_line(2)) + 2),
    ]
    assert sorted(r["metadata"]["n"] for r in shard_records(config)) == [1, 2, 3]
    # The version `extracted` derives from what it read is the one the snapshot observes.
    versions = take_snapshot(cfg).partition_versions()
    for key in keys:
        assert read_partition_version(cfg, key, files) == versions[key], key


def test_the_fingerprints_tell_apart_files_whose_shown_names_coincide(tmp_path: Path) -> None:
    """The partition's version (what the sensor compares) and the extraction's fingerprint
    keyed files by their shown name: swapping the two files' bytes, or renaming
    `bad\\xff.jsonl` to `bad<0xFF>.jsonl` with the same bytes, went unseen (the traces kept
    the old name, without `file_b64`)."""
    from jsonl_assets.core.source_fingerprints import take_snapshot
    from jsonl_assets.core.stages.extract_stage import extract_fingerprint

    config = _collision_project(tmp_path / "both")
    raw = config.parent / "raw"
    byte_name, literal = raw / os.fsdecode(b"bad\xff.jsonl"), raw / "bad\\xff.jsonl"
    before = take_snapshot(load_config(config)).partition_versions()["cpt|train"]
    first, second = byte_name.read_bytes(), literal.read_bytes()
    byte_name.write_bytes(second)
    literal.write_bytes(first)
    after = take_snapshot(load_config(config)).partition_versions()["cpt|train"]
    assert after != before

    seen: list[tuple[str, str]] = []
    for name in ["bad\\xff.jsonl", os.fsdecode(b"bad\xff.jsonl")]:
        root = tmp_path / f"one{len(seen)}"
        (root / "raw").mkdir(parents=True)
        (root / "raw" / name).write_bytes(doc_line(1) + b"\n")
        cfg = load_config(make_cpt_project(root, ["raw/*.jsonl"]))
        version = take_snapshot(cfg).partition_versions()["cpt|train"]
        seen.append((version, extract_fingerprint(cfg, dirs_for(cfg, "cpt|train"))))
    assert seen[0][0] != seen[1][0] and seen[0][1] != seen[1][1]


def test_file_keys_are_json_and_tell_names_apart() -> None:
    from jsonl_assets.core.file_names import file_key, key_text, os_name_key, os_name_of_key

    byte_name, literal = os.fsdecode(b"/d/caf\xe9/bad\xff.jsonl"), "/d/caf\\xe9/bad\\xff.jsonl"
    assert os_name_key(literal) == literal  # an ordinary name is its own key, as before
    assert os_name_key("/d/café.jsonl") == "/d/café.jsonl"
    keys = [os_name_key(byte_name), os_name_key(literal)]
    assert keys[0] != keys[1] and key_text(keys[0]) == key_text(keys[1]) == literal
    assert orjson.loads(orjson.dumps(keys)) == keys
    assert [os_name_of_key(k) for k in keys] == [byte_name, literal]
    assert os_name_of_key("/d/café.jsonl") == "/d/café.jsonl"
    assert file_key("raw/a.jsonl", None) == "raw/a.jsonl"
    # An object's key may hold a NUL: its key is escaped too, and none collides or misreads.
    names = ["s3://b/n\0ul.jsonl", "s3://b/\0x", byte_name, literal, "s3://b/x"]
    keys = [os_name_key(n) for n in names]
    assert len(set(keys)) == len(names) and [os_name_of_key(k) for k in keys] == names
    assert key_text(keys[0]) == "s3://b/n\0ul.jsonl" and key_text(keys[4]) == "s3://b/x"
