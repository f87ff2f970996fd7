"""A request Azure refuses (a wrong account key) on the package fails in one line naming the
call, the `az://` URL and the endpoint (it was the SDK's error, its whole XML body on one line
with literal `\\n`s, naming none of them). Azurite runs on 127.0.0.1 (the `azure` fixture)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jsonl_assets.core.store import base
from jsonl_assets.core.store.azure import AzureStore

from ...azurite_server import KEY
from ...object_server import ObjectServer


@pytest.fixture
def refused(azure: ObjectServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[ObjectServer]:
    """The container exists; the environment now holds a wrong key for it."""
    wrong = azure.env["AZURE_STORAGE_CONNECTION_STRING"].replace(KEY, "A" * 4 + KEY[4:])
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", wrong)
    base._stores.pop("az", None)
    try:
        yield azure
    finally:
        base._stores.pop("az", None)


CALLS: dict[str, Callable[[AzureStore, str], Any]] = {
    "call": lambda store, c: store.call(c, "pkg/metadata.json", "get_blob_properties"),
    "partials": lambda store, c: store.remove_partials(f"az://{c}/pkg"),
    "uploads": lambda store, c: store.incomplete_uploads(f"az://{c}/pkg"),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_refused_request_is_one_line_naming_its_url_and_endpoint(
    refused: ObjectServer, name: str
) -> None:
    store = base.store_for(f"az://{refused.bucket}")
    assert isinstance(store, AzureStore)
    with pytest.raises(OSError) as raised:
        CALLS[name](store, refused.bucket)
    message = str(raised.value)
    assert f"az://{refused.bucket}/pkg" in message, message
    assert refused.endpoint in message and "AuthorizationFailure" in message, message
    assert "\n" not in message and "<?xml" not in message, message
