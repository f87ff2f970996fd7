"""S3 (and S3-compatible stores: MinIO, moto ...) as a `Store`, through s3fs and its botocore client.

Credentials, region and endpoint come only from the AWS environment and profile chain
(`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`,
`AWS_PROFILE`): nothing here takes or prints one. Reads stream (s3fs's read-ahead file,
seekable, so a ranged read is a `Range` GET); an atomic write is a multipart upload, invisible
until `commit()` completes it (a small one is a single PUT at commit); `publish` is a PUT with
`If-Match` / `If-None-Match: *`, and HTTP 412 becomes `PreconditionFailed`. Object storage has
no folders: a "folder" is a key prefix, and it exists while an object lies under it.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar, Final

from jsonl_assets.core.fault_points import reached
from jsonl_assets.core.store.base import (
    ABSENT,
    Entry,
    FileStat,
    StorePath,
    VersionChanged,
)
from jsonl_assets.core.store.object_store import (
    READ_BLOCK,
    ObjectStore,
    PartUpload,
    nanoseconds,
    ranged,
    split_url,
)

PART_BYTES: Final = 5 << 20  # multipart part size: S3's minimum (the last part excepted)
DELETE_BATCH: Final = 1000


def _response(exc: BaseException) -> Any:
    """The botocore error response (s3fs re-raises a ClientError as an OSError from it)."""
    for err in (exc, exc.__cause__, exc.__context__):
        if err is not None and getattr(err, "response", None):
            return err.response  # type: ignore[attr-defined]
    return {}


def _status(exc: Exception) -> int:
    response = _response(exc)
    meta = response.get("ResponseMetadata", {}) if isinstance(response, dict) else {}
    try:
        return int(meta.get("HTTPStatusCode", 0))
    except (TypeError, ValueError):
        return 0


def _code(exc: Exception) -> str:
    response = _response(exc)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _missing(exc: Exception) -> bool:
    return (
        isinstance(exc, FileNotFoundError)
        or _status(exc) == 404
        or _code(exc) in ("NoSuchKey", "404", "NotFound")
    )


def _named(exc: OSError, where: str) -> OSError:
    """`exc` (of its class) with `where` before its message."""
    if exc.errno and exc.strerror:
        return OSError(exc.errno, f"{where}: {exc.strerror}")  # OSError picks the class
    try:
        return type(exc)(f"{where}: {exc}")
    except Exception:  # a class that takes other arguments
        return OSError(f"{where}: {exc}")


class _Pinned(io.RawIOBase):
    """An s3fs read-only file whose GETs carry If-Match: a failed condition (s3fs raises
    `FileExpired`) or a vanished object becomes `SourceChangedError`."""

    def __init__(self, handle: Any, etag: str) -> None:
        super().__init__()
        self._handle, self._etag = handle, etag

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._handle.seek(offset, whence))

    def tell(self) -> int:
        return int(self._handle.tell())

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._handle.read(len(buffer))
        except FileNotFoundError:
            raise VersionChanged("it is gone") from None
        except OSError as exc:
            if type(exc).__name__ != "FileExpired":
                raise
            raise VersionChanged(f"its ETag is no longer {self._etag}") from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._handle.close()
        super().close()


class S3AtomicWrite(PartUpload):
    """A multipart upload that becomes the object at `commit()`; `abort()` leaves nothing."""

    def __init__(self, store: S3Store, path: StorePath) -> None:
        super().__init__(store, path)
        self._store: S3Store = store
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def send_part(self) -> None:
        part = self.take()  # parts need no fixed size (but the last, 5 MiB at least)
        call = self._store.call
        try:
            if self._upload_id is None:
                started = call("create_multipart_upload", Bucket=self._bucket, Key=self._key)
                self._upload_id = started["UploadId"]
            number = len(self._parts) + 1
            done = call(
                "upload_part",
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=part,
            )
        except Exception as exc:
            raise OSError(f"cannot write {self.url}: {exc}") from exc
        self._parts.append({"PartNumber": number, "ETag": done["ETag"]})
        reached("upload.part")

    def commit(self) -> None:
        call = self._store.call
        try:
            if self._upload_id is None:  # small: one PUT
                call("put_object", Bucket=self._bucket, Key=self._key, Body=self.take())
                return
            if self._chunks:
                self.send_part()
            call(
                "complete_multipart_upload",
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
            self._upload_id = None
        except OSError:
            self.abort()
            raise
        except Exception as exc:
            self.abort()
            raise OSError(f"cannot write {self.url}: {exc}") from exc

    def abort(self) -> None:
        self._chunks, self._buffered = [], 0
        if self._upload_id is not None:
            upload, self._upload_id = self._upload_id, None
            with contextlib.suppress(Exception):
                self._store.call(
                    "abort_multipart_upload", Bucket=self._bucket, Key=self._key, UploadId=upload
                )


class S3Store(ObjectStore):
    """The `Store` of `s3://bucket/key` URLs (one s3fs file system per process): reads and
    appends as every object store; listings, stat, removal and uploads by botocore calls."""

    SCHEMES: ClassVar[tuple[str, ...]] = ("s3",)
    SCHEME = "s3"
    CUT_AT = ("?versionId=",)  # s3fs reads the key before it (and that version)
    CLIENT_LOGGERS = ("fsspec", "s3fs", "botocore", "aiobotocore")
    CLIENT_ERRORS = ("botocore.exceptions:BotoCoreError", "botocore.exceptions:ClientError")
    PART_BYTES = PART_BYTES
    PINS_READS = True
    POLARS_READS = True

    def make_fs(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)

    def tag(self, info: dict[str, Any]) -> str:
        return str(info.get("ETag", "")).strip('"')

    def open_read(
        self,
        path: StorePath,
        start: int = 0,
        end: int | None = None,
        version: FileStat | None = None,
    ) -> BinaryIO:
        """With `version`: no HEAD (its size is known), and every ranged GET carries
        `If-Match: <its ETag>`, so a byte of another version is never read."""
        if version is None or not version.etag:
            return super().open_read(path, start, end)
        try:
            handle = self.fs.open(
                self.key(path),
                "rb",
                block_size=READ_BLOCK,
                cache_type="readahead",
                size=version.size,
            )
        except FileNotFoundError:
            raise VersionChanged("it is gone") from None
        etag = version.etag.partition("@")[0]
        # What a HEAD would have told s3fs (it asks for it lazily), and its GET arguments.
        handle.details = {"name": self.key(path), "size": version.size, "ETag": f'"{etag}"'}
        handle.read_kw = {**handle.read_kw, "IfMatch": f'"{etag}"'}
        return ranged(_Pinned(handle, etag), start, end)

    def call(self, method: str, **kwargs: Any) -> Any:
        """A botocore call through s3fs's client (its retries, its credentials chain). s3fs
        raises a refused request as an OSError; an unreachable endpoint or missing
        credentials (botocore's own errors) become one here too, so every caller's OSError
        handling names them."""
        try:
            return self.fs.call_s3(method, **kwargs)
        except FileExistsError:
            raise  # a failed condition: an answer its caller asked for, not a failure
        except FileNotFoundError as exc:  # absent (a key, or a bucket gone): its class kept
            where = f"S3 {method} {self._where(kwargs)}"
            raise _named(exc, where) from (exc.__cause__ or exc)
        except (OSError, *self.client_errors()) as exc:
            where = f"S3 {method} {self._where(kwargs)}"
            if isinstance(exc, OSError):  # s3fs's translation of a refusal: its class kept
                raise _named(exc, where) from (exc.__cause__ or exc)
            raise OSError(f"{where}: {type(exc).__name__}: {exc}") from exc

    def _where(self, kwargs: dict[str, Any]) -> str:
        """The URL a call was about, and the endpoint it went to unless AWS's own."""
        url = f"s3://{kwargs.get('Bucket', '')}/{kwargs.get('Key', kwargs.get('Prefix', ''))}"
        client = getattr(self.fs, "s3", None)
        endpoint = str(getattr(getattr(client, "meta", None), "endpoint_url", "") or "")
        return (
            url if not endpoint or endpoint.endswith(".amazonaws.com") else f"{url} at {endpoint}"
        )

    def open_atomic(self, path: StorePath, shared: bool = False) -> S3AtomicWrite:
        return S3AtomicWrite(self, path)  # an upload is its writer's own, shared or not

    def list(self, folder: StorePath) -> Iterator[Entry]:
        bucket, key = split_url(folder)
        prefix = f"{key}/" if key else ""
        token: dict[str, str] = {}
        while True:
            page = self.call(
                "list_objects_v2", Bucket=bucket, Prefix=prefix, Delimiter="/", **token
            )
            for common in page.get("CommonPrefixes", []):
                yield Entry(common["Prefix"][len(prefix) :].rstrip("/"), True)
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix) :]
                if name:
                    yield Entry(name, False)
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def stat(self, path: StorePath) -> FileStat | None:
        bucket, key = split_url(path)
        if key:
            try:
                head = self.call("head_object", Bucket=bucket, Key=key)
            except Exception as exc:
                if not _missing(exc):
                    raise
            else:
                tag = str(head.get("ETag", "")).strip('"')
                version = head.get("VersionId")
                return FileStat(
                    size=int(head.get("ContentLength", 0)),
                    mtime_ns=nanoseconds(head.get("LastModified")),
                    etag=f"{tag}@{version}" if version and version != "null" else tag,
                )
        below = self.call(
            "list_objects_v2", Bucket=bucket, Prefix=f"{key}/" if key else "", MaxKeys=1
        )
        return FileStat(0, 0, is_dir=True) if below.get("KeyCount", 0) else None

    def put_if(self, bucket: str, key: str, data: bytes, expected_tag: str | None) -> None:
        condition: dict[str, str] = {}
        if expected_tag == ABSENT:
            condition = {"IfNoneMatch": "*"}
        elif expected_tag is not None:
            condition = {"IfMatch": f'"{expected_tag.split("@", 1)[0]}"'}
        self.call("put_object", Bucket=bucket, Key=key, Body=data, **condition)

    def lost_race(self, exc: Exception) -> bool:
        return _status(exc) in (409, 412) or _code(exc) in (
            "PreconditionFailed",
            "ConditionalRequestConflict",
        )

    def remove(self, path: StorePath, missing_ok: bool = True, recursive: bool = False) -> None:
        bucket, key = split_url(path)
        if recursive:
            keys = [k for k in self._keys(bucket, f"{key}/")]
            for i in range(0, len(keys), DELETE_BATCH):
                objects = [{"Key": k} for k in keys[i : i + DELETE_BATCH]]
                self.call("delete_objects", Bucket=bucket, Delete={"Objects": objects})
            return
        if not missing_ok and self.stat(path) is None:
            raise FileNotFoundError(2, "no such object", os.fspath(path))
        self.call("delete_object", Bucket=bucket, Key=key)

    def bucket_exists(self, bucket: str) -> bool:
        try:
            self.call("head_bucket", Bucket=bucket)
        except Exception as exc:
            return not _missing(exc)  # 403 and the like: it may exist, writes will tell
        return True

    def objects(self, bucket: str, prefix: str) -> Iterator[tuple[str, FileStat]]:
        """Every object under `prefix` as the listing names it (s3fs would report a key that
        is also the prefix of others as a folder, and cut one at `?versionId=`)."""
        token: dict[str, str] = {}
        while True:
            page = self.call("list_objects_v2", Bucket=bucket, Prefix=prefix, **token)
            for item in page.get("Contents", []):
                etag = str(item.get("ETag", "")).strip('"')
                modified = nanoseconds(item.get("LastModified"))
                yield item["Key"], FileStat(int(item.get("Size", 0)), modified, etag=etag)
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def _keys(self, bucket: str, prefix: str) -> Iterator[str]:
        token: dict[str, str] = {}
        while True:
            page = self.call("list_objects_v2", Bucket=bucket, Prefix=prefix, **token)
            yield from (item["Key"] for item in page.get("Contents", []))
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def remove_partials(self, folder: StorePath, prefix: str = "") -> int:
        """Abort the incomplete multipart uploads under `folder` whose name starts with
        `prefix` (left by a killed build: never visible, but billed); return how many."""
        bucket, key = split_url(folder)
        start = f"{key}/{prefix}" if key else prefix
        aborted = 0
        token: dict[str, str] = {}
        while True:
            page = self.call("list_multipart_uploads", Bucket=bucket, Prefix=start, **token)
            for upload in page.get("Uploads", []):
                self.call(
                    "abort_multipart_upload",
                    Bucket=bucket,
                    Key=upload["Key"],
                    UploadId=upload["UploadId"],
                )
                aborted += 1
            if not page.get("IsTruncated"):
                return aborted
            token = {
                "KeyMarker": page.get("NextKeyMarker", ""),
                "UploadIdMarker": page.get("NextUploadIdMarker", ""),
            }

    def incomplete_uploads(self, folder: StorePath) -> list[str]:
        """Keys of the multipart uploads under `folder` not yet completed or aborted."""
        bucket, key = split_url(folder)
        page = self.call("list_multipart_uploads", Bucket=bucket, Prefix=key)
        return [u["Key"] for u in page.get("Uploads", [])]
