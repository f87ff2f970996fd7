"""An absent key or bucket on S3 stays a FileNotFoundError (callers ask for that answer), and
its message names the call, the URL and the endpoint: a package bucket deleted mid-build
failed the partition with s3fs's bare "The specified bucket does not exist"."""

from __future__ import annotations

import pytest

from jsonl_assets.core.store import base
from jsonl_assets_tests.moto_server import ObjectServer


def test_a_vanished_bucket_names_the_listing_it_failed(s3: ObjectServer) -> None:
    store = base.store_for(f"s3://{s3.bucket}")
    store.call("delete_bucket", Bucket=s3.bucket)  # type: ignore[attr-defined]
    with pytest.raises(FileNotFoundError) as caught:
        list(store.list(f"s3://{s3.bucket}/pkg"))
    message = str(caught.value)
    # the endpoint of the store's client (a store cached from another loopback server too)
    assert f"S3 list_objects_v2 s3://{s3.bucket}/pkg/ at http://127.0.0.1:" in message
    assert "bucket does not exist" in message


def test_an_absent_object_is_still_no_stat(s3: ObjectServer) -> None:
    store = base.store_for(f"s3://{s3.bucket}")
    assert store.stat(f"s3://{s3.bucket}/nothing.jsonl") is None
