"""Google Cloud Storage (`gs://bucket/key`) as a `Store`, through gcsfs.

Credentials come only from Google's standard chain (`GOOGLE_APPLICATION_CREDENTIALS`, the
gcloud login, the metadata server of a cloud machine); with `STORAGE_EMULATOR_HOST` set
(fake-gcs-server, a local emulator), requests go there unauthenticated, as Google's own client
does. An atomic write is a resumable upload, invisible until its last chunk (a small one is a
single upload at commit); `abort()` cancels it. `publish` is an upload with
`ifGenerationMatch` (`0`: only if absent), and HTTP 412 becomes `PreconditionFailed`. The
version tag is the object's generation.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, ClassVar, Final

import orjson

from jsonl_assets.core.fault_points import reached
from jsonl_assets.core.store.base import ABSENT, StorePath
from jsonl_assets.core.store.object_store import (
    ObjectStore,
    PartUpload,
    client_class,
)

EMULATOR_ENV: Final = "STORAGE_EMULATOR_HOST"
CHUNK_UNIT: Final = 256 << 10  # a resumable upload's chunks are multiples of 256 KiB (not the last)
CONTENT_TYPE: Final = "application/octet-stream"


def _upload_url(fs: Any, bucket: str) -> str:
    return f"{fs._location}/upload/storage/v1/b/{bucket}/o"


def _multipart_body(key: str, data: bytes) -> bytes:
    meta = orjson.dumps({"name": key})
    return (
        b"--==0==\nContent-Type: application/json; charset=UTF-8\n\n" + meta + b"\n--==0==\n"
        b"Content-Type: " + CONTENT_TYPE.encode() + b"\n\n" + data + b"\n--==0==--"
    )


class GCSAtomicWrite(PartUpload):
    """A resumable upload that becomes the object with its last chunk; `abort()` cancels it."""

    def __init__(self, store: GCSStore, path: StorePath) -> None:
        super().__init__(store, path)
        self._store: GCSStore = store
        self._sent = 0
        self._location: str | None = None

    def send_part(self) -> None:
        self._send(final=False)

    def _send(self, final: bool) -> None:
        fs = self._store.fs
        data = self.take()
        size = len(data) if final else len(data) - len(data) % CHUNK_UNIT
        body, rest = data[:size], data[size:]
        try:
            if self._location is None:
                headers, _ = fs.call(
                    "POST",
                    _upload_url(fs, self._bucket),
                    uploadType="resumable",
                    name=self._key,
                    json={"name": self._key},
                    headers={"X-Upload-Content-Type": CONTENT_TYPE},
                )
                self._location = str(headers["Location"])
            end = self._sent + size
            span = f"bytes {self._sent}-{end - 1}" if size else "bytes *"
            total = str(end) if final else "*"
            headers, _ = fs.call(
                "POST",
                self._location,
                headers={"Content-Range": f"{span}/{total}", "Content-Type": CONTENT_TYPE},
                data=body,
            )
        except Exception as exc:
            raise OSError(f"cannot write {self.url}: {exc}") from exc
        kept = end
        if not final and "Range" in headers:  # the server may keep less than it was sent
            kept = int(str(headers["Range"]).rsplit("-", 1)[1]) + 1
        self._chunks = [data[kept - self._sent :]] if kept < end else [rest]
        self._buffered = len(self._chunks[0])
        self._sent = kept
        reached("upload.part")

    def commit(self) -> None:
        try:
            if self._location is None:  # small: one upload
                self._store.upload(self._bucket, self._key, self.take())
                return
            self._send(final=True)
            self._location = None
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        self._chunks, self._buffered = [], 0
        if self._location is not None:
            location, self._location = self._location, None
            # best effort: an unfinished upload expires by itself (a week)
            with contextlib.suppress(Exception):
                self._store.fs.call("DELETE", location)


class GCSStore(ObjectStore):
    """The `Store` of `gs://bucket/key` URLs (one gcsfs file system per process)."""

    SCHEMES: ClassVar[tuple[str, ...]] = ("gs", "gcs")
    SCHEME = "gs"
    CLIENT_LOGGERS = ("fsspec", "gcsfs")
    CLIENT_ERRORS = (
        "gcsfs.retry:HttpError",
        "google.auth.exceptions:GoogleAuthError",
        "aiohttp:ClientError",
    )

    def make_fs(self) -> Any:
        # gcsfs.core's plain client: gcsfs's default one probes each bucket's type over gRPC.
        file_system = client_class("gcsfs.core", "GCSFileSystem", "gs://", "gcs")
        token = "anon" if os.environ.get(EMULATOR_ENV) else None
        return file_system(token=token, skip_instance_cache=True, use_listings_cache=False)

    def tag(self, info: dict[str, Any]) -> str:
        return str(info.get("generation") or info.get("etag") or "")

    def open_atomic(self, path: StorePath, shared: bool = False) -> GCSAtomicWrite:
        return GCSAtomicWrite(self, path)  # an upload is its writer's own, shared or not

    def upload(self, bucket: str, key: str, data: bytes, **condition: str) -> dict[str, Any]:
        """One multipart upload (metadata and bytes in one request), with its preconditions."""
        response: dict[str, Any] = self.fs.call(
            "POST",
            _upload_url(self.fs, bucket),
            uploadType="multipart",
            headers={"Content-Type": 'multipart/related; boundary="==0=="'},
            data=_multipart_body(key, data),
            json_out=True,
            **condition,
        )
        return response

    def put_if(self, bucket: str, key: str, data: bytes, expected_tag: str | None) -> None:
        condition = {}
        if expected_tag is not None:
            condition = {"ifGenerationMatch": "0" if expected_tag == ABSENT else expected_tag}
        self.upload(bucket, key, data, **condition)

    def lost_race(self, exc: Exception) -> bool:
        return isinstance(exc, FileExistsError)  # gcsfs's name for HTTP 412

    def remove_partials(self, folder: StorePath, prefix: str = "") -> int:
        """Nothing to clear: Cloud Storage lists no unfinished resumable upload, and one is
        never an object (it is not visible, and expires a week after it started)."""
        return 0
