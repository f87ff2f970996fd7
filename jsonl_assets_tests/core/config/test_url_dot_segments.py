"""An object-storage `output.dir` / `quarantine_dir` with a `.` or `..` segment is a config
error naming the key: the store keeps `x/..` as a literal key (the package was written under
`x/..`, which a reader resolving the URL looks for at the bucket root, bypassing the bucket-root
rule), and `x/.` was refused with the false reason that its report dir lies inside it; a
prefix holding the marker its client cuts keys at (`?versionid=`) is refused too."""

from __future__ import annotations

from pathlib import Path

import pytest

from jsonl_assets.core.config import ConfigError, load_config

from ...conftest import write_config


def _config(tmp_path: Path, **output: str) -> Path:
    (tmp_path / "raw").mkdir(exist_ok=True)
    (tmp_path / "raw" / "a.jsonl").write_text('{"messages": []}\n', encoding="utf-8")
    source = {"name": "s", "paths": "raw/*.jsonl", "objective": "cpt", "adapter": "native"}
    data = {
        "dataset": {"name": "d", "description": "x"},
        "output": output,
        "sources": [{**source, "split": "train"}],
    }
    return write_config(tmp_path / "pipeline.yaml", data)


@pytest.mark.parametrize("key", ["dir", "quarantine_dir"])
@pytest.mark.parametrize(
    "url",
    [
        "s3://bkt/x/..",
        "s3://bkt/..",
        "s3://bkt/x/.",
        "s3://bkt/./x",
        "s3://bkt/x/../y",
        "s3://bkt/x/../../y/",
        "gs://bkt/a/./b",
        "s3://../x",
    ],
)
def test_a_dot_segment_in_an_object_storage_dir_is_a_config_error(
    tmp_path: Path, key: str, url: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, **{key: url}))
    assert info.value.key == f"output.{key}", info.value
    assert "segment" in info.value.message and "inside" not in info.value.message, info.value


@pytest.mark.parametrize("url", ["s3://bkt/x/..y", "s3://bkt/.x/a", "s3://bkt/x/.../y"])
def test_dots_within_a_segment_are_a_name(tmp_path: Path, url: str) -> None:
    cfg = load_config(_config(tmp_path, dir=url))
    assert str(cfg.output.dir) == url


@pytest.mark.parametrize("key", ["dir", "quarantine_dir"])
@pytest.mark.parametrize("url", ["az://cont1/v?versionid=3/pkg", "s3://bkt/v?versionId=2/pkg"])
def test_a_marker_the_client_cuts_keys_at_is_a_config_error(
    tmp_path: Path, key: str, url: str
) -> None:
    """adlfs (s3fs) reads a key only up to `?versionid=` (`?versionId=`): a package written
    under such a prefix was never found again, every rerun failed and its objects stayed."""
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, **{key: url}))
    assert info.value.key == f"output.{key}", info.value
    assert "cuts a key" in info.value.message, info.value
