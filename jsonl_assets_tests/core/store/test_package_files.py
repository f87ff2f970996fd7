"""Which files of the package this project wrote, on object storage: the package is the key
prefix `<dir>/`, checked whatever sits at the key `<dir>` itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from jsonl_assets.core.store.base import read_bytes, store_for
from jsonl_assets.core.store.package_files import ForeignFilesError, check_package
from jsonl_assets.core.store.url import StoreURL

from ...moto_server import s3, s3_endpoint  # noqa: F401 - fixtures
from ...object_server import ObjectServer


def test_an_object_at_the_package_key_does_not_hide_foreign_files_under_its_prefix(
    s3: ObjectServer,  # noqa: F811 - fixture
    tmp_path: Path,
) -> None:
    package = StoreURL(s3.url("pkg"))
    store = store_for(package)
    store.publish(package, b"an object named like the package prefix")
    store.publish(package / "metadata.json", b'{"note": "not written by jsonl-assets"}')
    store.publish(package / "README.md", b"foreign")
    with pytest.raises(ForeignFilesError) as raised:
        check_package(package, tmp_path / "work")
    assert raised.value.names == ["README.md", "metadata.json"]
    assert read_bytes(package / "metadata.json") == b'{"note": "not written by jsonl-assets"}'


def test_an_object_at_the_package_key_alone_is_no_foreign_file(
    s3: ObjectServer,  # noqa: F811 - fixture
    tmp_path: Path,
) -> None:
    package = StoreURL(s3.url("pkg"))
    store_for(package).publish(package, b"beside the package, not in it")
    store_for(package).publish(StoreURL(s3.url("pkg-other/x")), b"not in it either")
    check_package(package, tmp_path / "work")


def test_names_with_a_trailing_newline_are_not_ours_by_shape(tmp_path: Path) -> None:
    """`$` in a Python regex matches before a final newline: a shard name, a snapshot folder
    or a `.partial` temporary with one must not pass as ours (fullmatch)."""
    package = tmp_path / "pkg"
    folder = package / "data" / "cpt-train-0123456789abcdef"
    folder.mkdir(parents=True)
    (folder / "cpt-train-00000.jsonl.zst\n").write_bytes(b"x")
    (package / "data" / "cpt-train-0123456789abcdef\n").mkdir()
    (package / ".x.partial\n").write_bytes(b"x")
    with pytest.raises(ForeignFilesError) as raised:
        check_package(package, tmp_path / "work")
    assert raised.value.names == [
        ".x.partial\n",
        "data/cpt-train-0123456789abcdef/cpt-train-00000.jsonl.zst\n",
        "data/cpt-train-0123456789abcdef\n/",
    ]
