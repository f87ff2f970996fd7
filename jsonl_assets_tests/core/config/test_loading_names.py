"""How a source file is named (core/config/loading.py `_inputs`): by the path its glob
matched, relative to the config folder, symlinks not resolved; a file reached by two routes
is one file (its resolved path), named by its first match; a file outside the config folder
keeps a `../` name."""

from __future__ import annotations

from pathlib import Path

import yaml

from jsonl_assets.core.config import load_config
from jsonl_assets_tests.values_helpers import doc_line, make_cpt_project


def _names(config: Path) -> list[list[tuple[str, Path]]]:
    """Per source: (name, resolved path) of each input."""
    cfg = load_config(config)
    return [[(i.rel, Path(i.path)) for i in s.inputs] for s in cfg.sources]


def test_a_symlinked_data_folder_names_files_by_the_link(tmp_path: Path) -> None:
    for data in (tmp_path / "data" / "corpus", tmp_path / "far" / "away" / "corpus"):
        data.mkdir(parents=True)
        (data / "a.jsonl").write_bytes(doc_line(1) + b"\n")
    names = {}
    for project, data in (("p1", "data/corpus"), ("q/p2", "far/away/corpus")):
        root = tmp_path / project
        root.mkdir(parents=True)
        (root / "raw").symlink_to(tmp_path / data)
        config = make_cpt_project(root, ["raw/*.jsonl"])
        [[(name, path)]] = _names(config)
        assert path == (tmp_path / data / "a.jsonl").resolve()  # read where the data is
        names[project] = name
    assert names == {"p1": "raw/a.jsonl", "q/p2": "raw/a.jsonl"}


def test_a_file_reached_by_two_routes_is_one_file_named_by_its_first_match(
    tmp_path: Path,
) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.jsonl").write_bytes(doc_line(1) + b"\n")
    (tmp_path / "alias").symlink_to(tmp_path / "raw")
    config = make_cpt_project(tmp_path, ["alias/*.jsonl", "raw/*.jsonl", "raw/../raw/a.jsonl"])
    data = yaml.safe_load(config.read_text())
    data["sources"].append({**data["sources"][0], "name": "notes2", "paths": ["raw/*.jsonl"]})
    config.write_text(yaml.safe_dump(data))
    real = (tmp_path / "raw" / "a.jsonl").resolve()
    # One input per source, both named by the config's first match (sources in order).
    assert _names(config) == [[("alias/a.jsonl", real)], [("alias/a.jsonl", real)]]
    # A glob's own matches are taken in byte order, not in the folder's listing order.
    (tmp_path / "d").mkdir()
    for name in ("b", "c", "a"):
        (tmp_path / "d" / name).symlink_to(tmp_path / "raw")
    config = make_cpt_project(tmp_path, ["d/*/a.jsonl"])
    assert _names(config) == [[("d/a/a.jsonl", real)]]


def test_a_file_outside_the_config_folder_keeps_a_dotdot_name(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.jsonl").write_bytes(doc_line(1) + b"\n")
    config = make_cpt_project(tmp_path / "project", [str(data / "*.jsonl")])
    assert _names(config) == [[("../data/a.jsonl", (data / "a.jsonl").resolve())]]


def _link_and_dotdot(tmp_path: Path) -> tuple[Path, Path]:
    """`raw/link` -> `elsewhere/dir`: `raw/link/../x.jsonl` is `elsewhere/x.jsonl`."""
    (tmp_path / "elsewhere" / "dir").mkdir(parents=True)
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "link").symlink_to(tmp_path / "elsewhere" / "dir")
    (tmp_path / "raw" / "x.jsonl").write_bytes(doc_line(1) + b"\n")
    (tmp_path / "elsewhere" / "x.jsonl").write_bytes(doc_line(2) + b"\n")
    return (tmp_path / "raw" / "x.jsonl").resolve(), (tmp_path / "elsewhere" / "x.jsonl").resolve()


def test_a_dotdot_after_a_symlink_names_the_file_it_reaches(tmp_path: Path) -> None:
    """`normpath` dropped `link/..` as text: both files were named `raw/x.jsonl` (a build of
    one source failed on every run, two sources' traces named the wrong file)."""
    here, there = _link_and_dotdot(tmp_path)
    config = make_cpt_project(tmp_path, ["raw/x.jsonl", "raw/link/../x.jsonl"])
    assert _names(config) == [[("raw/link/../x.jsonl", there), ("raw/x.jsonl", here)]]
    data = yaml.safe_load(config.read_text())
    data["sources"][0]["paths"] = ["raw/link/../*.jsonl"]
    data["sources"].append({**data["sources"][0], "name": "notes2", "paths": ["raw/*.jsonl"]})
    config.write_text(yaml.safe_dump(data))
    assert _names(config) == [[("raw/link/../x.jsonl", there)], [("raw/x.jsonl", here)]]
    # One file by two spellings is still one file, named by its first match.
    data["sources"][0]["paths"] = ["raw/link/../dir/../x.jsonl", "elsewhere/*.jsonl"]
    config.write_text(yaml.safe_dump(data))
    assert _names(config) == [[("raw/link/../x.jsonl", there)], [("raw/x.jsonl", here)]]
