"""Azure Blob Storage (`az://container/key`) as a `Store`, through adlfs and its blob client.

Credentials come only from the environment adlfs reads: `AZURE_STORAGE_CONNECTION_STRING`, or
`AZURE_STORAGE_ACCOUNT_NAME` with `AZURE_STORAGE_ACCOUNT_KEY` or `AZURE_STORAGE_SAS_TOKEN`, or a
service principal (`AZURE_STORAGE_CLIENT_ID`, `..._CLIENT_SECRET`, `..._TENANT_ID`). An atomic
write stages blocks and becomes the blob when `commit()` commits the block list (a small one is
a single upload); uncommitted blocks are never visible. `publish` is an upload with `If-Match`
on the ETag, or `If-None-Match: *` for the first one; HTTP 412/409 become `PreconditionFailed`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Coroutine
from typing import Any, ClassVar

from jsonl_assets.core.fault_points import reached
from jsonl_assets.core.store.base import ABSENT, StorePath
from jsonl_assets.core.store.object_store import (
    ObjectStore,
    PartUpload,
    client_class,
    split_url,
)


class AzureAtomicWrite(PartUpload):
    """Staged blocks that become the blob at `commit()`; `abort()` leaves nothing visible."""

    def __init__(self, store: AzureStore, path: StorePath) -> None:
        super().__init__(store, path)
        self._store: AzureStore = store
        self._blocks: list[str] = []

    def send_part(self) -> None:
        block = f"{len(self._blocks):08d}"
        data = self.take()
        try:
            self._store.call(self._bucket, self._key, "stage_block", block_id=block, data=data)
        except Exception as exc:
            raise OSError(f"cannot write {self.url}: {exc}") from exc
        self._blocks.append(block)
        reached("upload.part")

    def commit(self) -> None:
        from azure.storage.blob import BlobBlock

        try:
            if not self._blocks:  # small: one upload
                self._store.put(self._bucket, self._key, self.take(), overwrite=True)
                return
            if self._chunks:
                self.send_part()
            blocks = [BlobBlock(b) for b in self._blocks]
            self._store.call(self._bucket, self._key, "commit_block_list", block_list=blocks)
            self._blocks = []
        except BaseException as exc:
            self.abort()
            if isinstance(exc, Exception) and not isinstance(exc, OSError):
                raise OSError(f"cannot write {self.url}: {exc}") from exc
            raise

    def abort(self) -> None:
        """Uncommitted blocks are invisible and expire in a week; those of a blob that has no
        committed version yet are removed now."""
        self._chunks, self._buffered = [], 0
        if self._blocks:
            self._blocks = []
            # best effort, as on S3 and GCS: an abort never hides the error that caused it
            with contextlib.suppress(Exception):
                self._store.remove_uncommitted(self._bucket, self._key)


class AzureStore(ObjectStore):
    """The `Store` of `az://container/key` URLs (one adlfs file system per process)."""

    SCHEMES: ClassVar[tuple[str, ...]] = ("az", "abfs")
    SCHEME = "az"
    CUT_AT = ("?versionid=",)  # adlfs reads the key before it (and that version)
    CLIENT_LOGGERS = ("fsspec", "adlfs", "azure")
    CLIENT_ERRORS = ("azure.core.exceptions:AzureError", "aiohttp:ClientError")

    def make_fs(self) -> Any:
        file_system = client_class("adlfs", "AzureBlobFileSystem", "az://", "azure")
        return file_system(skip_instance_cache=True, use_listings_cache=False)

    def tag(self, info: dict[str, Any]) -> str:
        etag = str(info.get("etag") or "").strip('"')
        version = info.get("version_id")
        return f"{etag}@{version}" if version else etag

    def open_atomic(self, path: StorePath, shared: bool = False) -> AzureAtomicWrite:
        return AzureAtomicWrite(self, path)  # an upload is its writer's own, shared or not

    def run(self, coroutine: Coroutine[Any, Any, Any], where: str = "") -> Any:
        """Run one of the blob client's coroutines on adlfs's event loop. A request the service
        refuses (wrong key, an invalid name) is an OSError naming `where` (call and URL) and
        the endpoint, in one line; absent blobs and failed conditions stay the SDK's own
        errors, which their callers judge."""
        from azure.core.exceptions import (
            HttpResponseError,
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
        )
        from fsspec.asyn import sync

        async def wrapped() -> Any:
            return await coroutine

        try:
            return sync(self.fs.loop, wrapped)
        except (ResourceNotFoundError, ResourceExistsError, ResourceModifiedError):
            raise
        except HttpResponseError as exc:
            endpoint = getattr(self.fs.service_client, "url", "") or ""
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            error = getattr(exc, "error_code", None)
            code = f" ({getattr(error, 'value', error)})" if error else ""
            raise OSError(f"Azure {where} at {endpoint}: {first}{code}") from exc

    async def blob_call(self, container: str, key: str, method: str, **kwargs: Any) -> Any:
        """`method` of the blob client of `container`/`key`, with `kwargs`."""
        client = self.fs.service_client.get_blob_client(container=container, blob=key)
        async with client:
            return await getattr(client, method)(**kwargs)

    def call(self, container: str, key: str, method: str, **kwargs: Any) -> Any:
        """`blob_call`, run to its end."""
        return self.run(
            self.blob_call(container, key, method, **kwargs), f"{method} az://{container}/{key}"
        )

    def put(self, container: str, key: str, data: bytes, **condition: Any) -> Any:
        return self.call(container, key, "upload_blob", data=data, **condition)

    def put_if(self, bucket: str, key: str, data: bytes, expected_tag: str | None) -> None:
        from azure.core import MatchConditions

        condition: dict[str, Any] = {"overwrite": expected_tag != ABSENT}
        if expected_tag not in (None, ABSENT):
            condition["etag"] = f'"{expected_tag.split("@", 1)[0]}"'
            condition["match_condition"] = MatchConditions.IfNotModified
        self.put(bucket, key, data, **condition)

    def lost_race(self, exc: Exception) -> bool:
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError

        return isinstance(exc, ResourceModifiedError | ResourceExistsError)  # 412, 409

    async def _uncommitted(self, container: str, prefix: str) -> list[str]:
        """Names under `prefix` that have uncommitted blocks and no committed version."""
        client = self.fs.service_client.get_container_client(container)
        every = client.list_blobs(name_starts_with=prefix, include=["uncommittedblobs"])
        names = {b.name async for b in every}
        names -= {b.name async for b in client.list_blobs(name_starts_with=prefix)}
        return sorted(names)

    def remove_uncommitted(self, container: str, key: str) -> None:
        """Delete `key` if it has staged blocks and no committed version (uncommitted blocks
        would otherwise expire by themselves, in a week)."""
        if key in self.run(self._uncommitted(container, key), f"list_blobs az://{container}/{key}"):
            self.call(container, key, "delete_blob")

    def remove_partials(self, folder: StorePath, prefix: str = "") -> int:
        """Delete the blobs under `folder` whose name starts with `prefix` that a killed write
        left with staged blocks and no committed version (never visible); return how many."""
        container, key = split_url(folder)
        start = f"{key}/{prefix}" if key else prefix
        names = self.run(
            self._uncommitted(container, start), f"list_blobs az://{container}/{start}"
        )
        for name in names:
            self.call(container, name, "delete_blob")
        return len(names)

    def incomplete_uploads(self, folder: StorePath) -> list[str]:
        """Names under `folder` with staged blocks and no committed version."""
        container, key = split_url(folder)
        return list(
            self.run(self._uncommitted(container, key), f"list_blobs az://{container}/{key}")
        )
