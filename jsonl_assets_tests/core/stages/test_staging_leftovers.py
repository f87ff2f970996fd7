"""Staging prefixes on object storage that no build can adopt any more (a build killed
mid-upload, then run from another work dir) are cleared by the next publish: their objects
removed, their incomplete multipart uploads aborted. Those a build may still adopt are kept:
the current build's own, and another machine's while it is fresh."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import orjson
import pytest
import yaml

from jsonl_assets.core.stages.staged_shards import OWNER, STAGED_OBJECTS, staging_owner
from jsonl_assets.core.stages.staging_leftovers import STALE_HOURS, clear_stale_staging
from jsonl_assets.core.store.base import store_for
from jsonl_assets.core.store.url import StoreURL
from jsonl_assets.core.store.work_files import partition_dirs

from ...moto_server import s3, s3_endpoint  # noqa: F401 - fixtures
from ...object_server import ObjectServer
from ...test_snapshot_publish import _build, _project

LATER = time.time() + (STALE_HOURS + 1) * 3600  # as if a day had passed


def _stage(server: ObjectServer, name: str, owner: dict[str, str] | None) -> None:
    """A staging prefix as a killed pass leaves it: its owner.json, a staged shard and an
    upload begun."""
    store = store_for(server.url("pkg"))
    prefix = f"pkg/{STAGED_OBJECTS}/{name}"
    if owner is not None:
        store.publish(server.url(f"{prefix}/{OWNER}"), orjson.dumps(owner))
    store.publish(server.url(f"{prefix}/cpt-train/data/cpt-train-00000.jsonl.zst"), b"staged")
    key = f"{prefix}/cpt-train/data/cpt-train-00001.jsonl.zst"
    upload = store.call("create_multipart_upload", Bucket=server.bucket, Key=key)  # type: ignore[attr-defined]
    store.call(  # type: ignore[attr-defined]
        "upload_part", Bucket=server.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1,
        Body=b"x" * 100,
    )  # fmt: skip


def _left(server: ObjectServer) -> set[str]:
    """The staging prefixes that still hold an object or an upload."""
    store = store_for(server.url("pkg"))
    prefix = f"pkg/{STAGED_OBJECTS}/"
    keys = list(store._keys(server.bucket, prefix))  # type: ignore[attr-defined]
    keys += store.incomplete_uploads(server.url(f"pkg/{STAGED_OBJECTS}"))  # type: ignore[attr-defined]
    return {k[len(prefix) :].split("/")[0] for k in keys}


@pytest.mark.slow
def test_only_prefixes_no_build_can_adopt_are_cleared(
    s3: ObjectServer,  # noqa: F811 - fixture
    tmp_path: Path,
) -> None:
    here = socket.gethostname()
    (tmp_path / "live").mkdir()
    _stage(s3, "gone0000000000000", {"host": here, "work": str(tmp_path / "wiped")})
    _stage(s3, "live0000000000000", {"host": here, "work": str(tmp_path / "live")})
    _stage(s3, "other000000000000", {"host": f"not-{here}", "work": str(tmp_path / "wiped")})
    _stage(s3, "legacy00000000000", None)
    package = StoreURL(s3.url("pkg"))
    mine = partition_dirs(tmp_path / "work", tmp_path / "q", package, "cpt", "train")
    _stage(s3, staging_owner(mine).name, None)  # the current build's: never cleared here
    assert clear_stale_staging(package, [mine]) == ["gone0000000000000"]
    assert _left(s3) == {
        "live0000000000000", "other000000000000", "legacy00000000000", staging_owner(mine).name
    }  # fmt: skip
    # A day later nothing but the current build's own is left.
    assert clear_stale_staging(package, [mine], now=LATER) == [
        "legacy00000000000", "live0000000000000", "other000000000000"
    ]  # fmt: skip
    assert _left(s3) == {staging_owner(mine).name}


@pytest.mark.slow
def test_a_build_from_another_work_dir_clears_what_a_killed_one_left(
    s3: ObjectServer,  # noqa: F811 - fixture
    tmp_path: Path,
) -> None:
    config = _project(tmp_path)
    data = yaml.safe_load(config.read_text())
    data["output"].update(dir=s3.url("pkg"), quarantine_dir=s3.url("q"), work_dir="work2")
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    # What kill -9 mid-upload left, staged from the work dir `work` since wiped.
    work = tmp_path / "work" / "cpt" / "train"
    _stage(s3, "0123456789abcdef", {"host": socket.gethostname(), "work": str(work)})
    _build(config)
    assert _left(s3) == set()
    assert store_for(s3.url("pkg")).stat(StoreURL(s3.url("pkg/metadata.json"))) is not None
