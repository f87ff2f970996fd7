"""`source_inputs` resolves each matched file's folder once for the files in it; the paths it
gives must be what resolving each file on its own gives, through symlinked folders, symlinked
files and `..` in a glob alike."""

from __future__ import annotations

from pathlib import Path

from jsonl_assets.core.config.path_names import FileNames
from jsonl_assets.core.config.source_inputs import source_inputs


def _tree(tmp_path: Path) -> Path:
    real = tmp_path / "store" / "real"
    real.mkdir(parents=True)
    for name in ("a.jsonl", "b.jsonl"):
        (real / name).write_text('{"text": "x"}\n')
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "target.jsonl").write_text('{"text": "y"}\n')
    data = tmp_path / "project" / "data"
    data.mkdir(parents=True)
    (data / "linked").symlink_to(real)  # a symlinked folder
    (data / "plain.jsonl").write_text('{"text": "z"}\n')
    (data / "file_link.jsonl").symlink_to(tmp_path / "elsewhere" / "target.jsonl")
    (data / "dir_then_up").symlink_to(real)  # `dir_then_up/..` is real's parent, not data
    return tmp_path / "project"


def test_matched_files_resolve_as_each_file_alone(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    patterns = ["data/*.jsonl", "data/linked/*.jsonl", "data/dir_then_up/../real/*.jsonl"]
    inputs = source_inputs(root / "c.yaml", root, "sources[0]", "jsonl", patterns, FileNames())
    store = (tmp_path / "store" / "real").resolve()
    assert set(inputs) == {
        (root / "data" / "plain.jsonl").resolve(),
        (tmp_path / "elsewhere" / "target.jsonl").resolve(),
        store / "a.jsonl",
        store / "b.jsonl",
    }
    for key, given in inputs.items():
        assert given.path == key
    # the first match names a file reached twice (through `linked/` and `dir_then_up/..`)
    assert inputs[store / "a.jsonl"].rel == "data/linked/a.jsonl"
    assert inputs[(tmp_path / "elsewhere" / "target.jsonl").resolve()].rel == (
        "data/file_link.jsonl"
    )


def test_a_matched_file_linked_into_an_output_dir_is_named(tmp_path: Path) -> None:
    """Files are judged by their folders, once each; the message still names the first file
    (in the glob's order) whose resolved path lies in an output dir."""
    from jsonl_assets.core.config import ConfigError, load_config
    from jsonl_assets_tests.conftest import notes_config

    raw = tmp_path / "raw"
    raw.mkdir()
    work = tmp_path / "work" / "old"
    work.mkdir(parents=True)
    for name in ("x.jsonl", "y.jsonl"):
        (work / name).write_text('{"text": "a"}\n')
    for i in range(50):
        (raw / f"a{i:02}.jsonl").write_text('{"text": "b"}\n')
    (raw / "m.jsonl").symlink_to(work / "y.jsonl")
    (raw / "n.jsonl").symlink_to(work / "x.jsonl")
    config = notes_config(
        tmp_path / "pipeline.yaml",
        ["raw/*.jsonl"],
        {"dir": "package", "work_dir": "work", "quarantine_dir": "q"},
    )
    try:
        load_config(config)
    except ConfigError as exc:
        said = str(exc)
    else:
        raise AssertionError("a source file inside the work dir was accepted")
    assert "sources[0].paths[0]" in said
    assert f"matches {(work / 'y.jsonl').resolve()}, which lies inside output.work_dir" in said
    assert "(through a symlink)" in said
