"""A source file's name names that file: `x/..` is dropped only where `x` is not a symlink
(`kept_normpath`), so two files never share a name, and a name two files would get is a
config error naming both (`FileNames`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from jsonl_assets.core.config import ConfigError, parse_config
from jsonl_assets.core.config.path_names import config_relative, kept_normpath
from jsonl_assets_tests.values_helpers import doc_line, make_cpt_project

ORDINARY = [
    "a/b/../c",
    "a/./b//c/",
    "../../x/y",
    "a/../../b",
    "./a/..",
    ".",
    "..",
    "/",
    "/..",
    "/../a",
    "//a/b/../c",
    "///a/./b",
    "a/b/c/../../..",
    "raw/\udce9t\udce9/../x.jsonl",
]


def test_without_a_symlink_it_is_normpath_and_relpath(tmp_path: Path) -> None:
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    for text in ORDINARY:
        for path in (text, os.path.join(tmp_path, text) if text[0] != "/" else text):
            assert kept_normpath(path) == os.path.normpath(path), path
            if path.startswith("//"):
                continue  # relpath's abspath keeps two slashes; no glob of a project starts so
            root = tmp_path / "a"
            assert config_relative(path, root) == os.path.relpath(os.path.normpath(path), root)


def test_a_dotdot_after_a_symlink_is_kept_and_names_the_same_file(tmp_path: Path) -> None:
    (tmp_path / "elsewhere" / "dir").mkdir(parents=True)
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "link").symlink_to(tmp_path / "elsewhere" / "dir")
    for name in ("raw/x.jsonl", "elsewhere/x.jsonl", "elsewhere/dir/y.jsonl"):
        (tmp_path / name).write_bytes(b"{}\n")
    cases = {
        "raw/link/../x.jsonl": "raw/link/../x.jsonl",  # elsewhere/x.jsonl, not raw/x.jsonl
        "raw/link/./../x.jsonl": "raw/link/../x.jsonl",
        "raw/link/../dir/../x.jsonl": "raw/link/../x.jsonl",  # `dir` is a real folder
        "raw/../raw/link/y.jsonl": "raw/link/y.jsonl",  # `raw` is a real folder
        "raw/link/../../raw/x.jsonl": "raw/link/../../raw/x.jsonl",
    }
    for given, kept in cases.items():
        path = os.path.join(tmp_path, given)
        assert kept_normpath(path) == os.path.join(tmp_path, kept)
        assert os.path.realpath(kept_normpath(path)) == os.path.realpath(path)
        assert config_relative(path, tmp_path) == kept


def test_two_files_given_one_name_are_a_config_error_naming_both(tmp_path: Path) -> None:
    """The config folder as given (not resolved) is a symlink: `../x.jsonl` from the glob
    goes up from where it points, `../x.jsonl` from an absolute glob from the link's folder:
    two files, one name. Refused, naming both, never one read for the other."""
    (tmp_path / "real" / "deep" / "proj").mkdir(parents=True)
    (tmp_path / "real" / "deep" / "x.jsonl").write_bytes(doc_line(1) + b"\n")
    (tmp_path / "x.jsonl").write_bytes(doc_line(2) + b"\n")
    (tmp_path / "proj").symlink_to(tmp_path / "real" / "deep" / "proj")
    config = make_cpt_project(tmp_path / "proj", ["../x.jsonl", str(tmp_path / "x.jsonl")])
    data = yaml.safe_load(config.read_text())
    with pytest.raises(ConfigError) as err:
        parse_config(data, tmp_path / "proj" / "pipeline.yaml")
    message = str(err.value)
    assert "sources[0].paths[1]" in message and "'../x.jsonl'" in message
    assert str(tmp_path / "x.jsonl") in message
    assert str((tmp_path / "real" / "deep" / "x.jsonl").resolve()) in message
    assert "sources[0].paths[0]" in message
