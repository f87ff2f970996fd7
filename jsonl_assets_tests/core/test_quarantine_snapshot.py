"""The quarantine published with a snapshot: what a copy killed midway leaves (an incomplete
multipart upload on object storage, a hidden `.partial` file on disk) in any of the
partition's quarantine folders is cleared by its next publish."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jsonl_assets.core.store.base import store_for

from ..moto_server import s3, s3_endpoint  # noqa: F401 - fixtures
from ..object_server import ObjectServer
from ..test_snapshot_publish import _build, _project

OLD_FOLDER = "cpt-train-0123456789abcdef"  # a folder of an earlier quarantine of cpt|train


def _uploads(server: ObjectServer, prefix: str) -> list[str]:
    store = store_for(server.url(prefix))
    page = store.call("list_multipart_uploads", Bucket=server.bucket, Prefix=prefix)  # type: ignore[attr-defined]
    return sorted(u["Key"] for u in page.get("Uploads", []))


@pytest.mark.slow
def test_a_killed_quarantine_upload_is_aborted_by_the_next_publish(
    s3: ObjectServer,  # noqa: F811 - fixture
    tmp_path: Path,
) -> None:
    config = _project(tmp_path)
    data = yaml.safe_load(config.read_text())
    data["output"].update(dir=s3.url("pkg"), quarantine_dir=s3.url("q"), work_dir="work")
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    store = store_for(s3.url("q"))
    # What kill -9 in the middle of copy_file_in leaves: an upload begun, a part sent.
    for key in (f"q/{OLD_FOLDER}/extracted.jsonl", "q/keep-me/extracted.jsonl"):
        upload = store.call("create_multipart_upload", Bucket=s3.bucket, Key=key)  # type: ignore[attr-defined]
        store.call(  # type: ignore[attr-defined]
            "upload_part",
            Bucket=s3.bucket,
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=1,
            Body=b"x" * 100,
        )
    assert len(_uploads(s3, "q/")) == 2
    _build(config)
    # The partition's own leftovers are aborted; a name that is no folder of ours is kept.
    assert _uploads(s3, "q/") == ["q/keep-me/extracted.jsonl"]


def test_a_killed_local_quarantine_copy_is_removed_by_the_next_publish(tmp_path: Path) -> None:
    config = _project(tmp_path)
    quarantine = tmp_path / "quarantine"
    left = quarantine / OLD_FOLDER / ".extracted.jsonl.partial"
    kept = quarantine / "keep-me" / ".extracted.jsonl.partial"
    for path in (left, kept):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"half a copy")
    _build(config)
    assert not left.exists() and kept.exists()
