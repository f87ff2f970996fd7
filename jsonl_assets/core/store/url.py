"""`StoreURL`: an object-storage location (`s3://bucket/prefix`) that joins like a `Path`.

`Path("s3://b/k")` collapses to `s3:/b/k`; a `StoreURL` keeps the URL as a string, joins with
`/`, and answers the few file-system questions the build asks of its output dir through the
store (`exists`, `is_file`, `is_dir`, `read_bytes`); `mkdir` does nothing (object storage has
no folders). `location` turns a configured string into a `Path` or a `StoreURL`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from jsonl_assets.core.store.base import (
    FileStat,
    backends,
    local_path,
    read_bytes,
    store_for,
    url_scheme,
)


def is_url(text: str | os.PathLike[str]) -> bool:
    """Whether `text` names a location of a non-local store (`s3://`, `gs://` ...)."""
    return url_scheme(text) not in ("", "file")


def scheme_problem(text: str | os.PathLike[str]) -> str | None:
    """Why the URL `text` names no store here (a scheme no backend serves), or None."""
    scheme = url_scheme(text)
    known = backends()
    if scheme == "file" and not local_path(text).startswith("/"):
        return (
            f"{os.fspath(text)!r}: a file:// URL names an absolute local path "
            "(file:///data/raw); write a plain path for one relative to the config"
        )
    if scheme in ("", "file") or scheme in known:
        return None
    supported = ", ".join(f"{s}://" for s in sorted(known) if s)
    return (
        f"{os.fspath(text)!r}: unsupported URL scheme {scheme}:// (supported: plain paths, "
        f"{supported})"
    )


def dot_segment_problem(text: str | os.PathLike[str]) -> str | None:
    """Why the object-storage location `text` cannot be a dir of the build: a `.` or `..`
    segment (a key prefix is no path: the store would keep `x/..` as a literal key, while a
    reader who resolves it looks elsewhere, at the bucket root for `s3://b/x/..`), or a marker
    its client cuts keys at; None if it can."""
    url = os.fspath(text)
    _, _, rest = url.partition("://")
    dots = sorted({p for p in rest.split("/") if p in (".", "..")})
    if dots:
        return (
            f"{url!r}: a {' or '.join(repr(d) for d in dots)} segment in an object-storage "
            "location is kept as a literal key, not resolved; write the prefix without it "
            "(for example s3://bucket/package)"
        )
    # A marker the client cuts a key at (`?versionId=`): objects written under the prefix
    # would be read back as other keys, and the build could never find its own shards.
    for marker in getattr(store_for(url), "CUT_AT", ()):
        if marker.lower() in rest.lower():
            return (
                f"{url!r}: holds {marker!r}, where the storage client cuts a key when it "
                "reads it back; choose a prefix without it"
            )
    return None


class StoreURL(os.PathLike[str]):
    """A URL with the parts of `pathlib.Path` the build uses on its output dirs."""

    __slots__ = ("_url",)

    def __init__(self, url: str | StoreURL) -> None:
        text = os.fspath(url)
        scheme, _, rest = text.partition("://")
        self._url = f"{scheme.lower()}://{'/'.join(p for p in rest.split('/') if p)}"

    def __fspath__(self) -> str:
        return self._url

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"StoreURL({self._url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoreURL) and other._url == self._url

    def __hash__(self) -> int:
        return hash(self._url)

    def __truediv__(self, other: str | os.PathLike[str]) -> StoreURL:
        return StoreURL(f"{self._url}/{os.fspath(other)}")

    @property
    def name(self) -> str:
        return self._url.rsplit("/", 1)[1] if self._url.count("/") > 2 else ""

    @property
    def parent(self) -> StoreURL:
        return StoreURL(self._url.rsplit("/", 1)[0]) if self._url.count("/") > 2 else self

    @property
    def stem(self) -> str:
        return self.name.split(".", 1)[0] if not self.name.startswith(".") else self.name

    def exists(self) -> bool:
        return store_for(self).stat(self) is not None

    def is_file(self) -> bool:
        st = store_for(self).stat(self)
        return st is not None and not st.is_dir

    def is_dir(self) -> bool:
        st = store_for(self).stat(self)
        return st is not None and st.is_dir

    def read_bytes(self) -> bytes:
        return read_bytes(self)

    def mkdir(self, *_: Any, **__: Any) -> None:
        """Object storage has no folders: a prefix exists while an object lies under it."""

    def resolve(self) -> StoreURL:
        return self

    def relative_to(self, other: StoreURL) -> str:
        prefix = f"{other._url}/"
        if not self._url.startswith(prefix):
            raise ValueError(f"{self._url} is not inside {other._url}")
        return self._url[len(prefix) :]


_listings: list[dict[str, Any]] = []  # the open `listed_once` scopes


@contextlib.contextmanager
def listed_once() -> Iterator[None]:
    """Within the block, each glob lists its bucket once: a build is one observation of its
    sources, however many times its runs and steps load the config."""
    _listings.append({})
    try:
        yield
    finally:
        _listings.pop()


def store_glob(pattern: str) -> dict[str, FileStat]:
    """The objects a URL glob matches (`s3://bucket/raw/**/*.jsonl`): URL -> the listing's
    stat, sorted by URL (the scope's listing inside `listed_once`). `OSError` when the store
    cannot be asked (the client's own errors, named, as well)."""
    if _listings and pattern in _listings[-1]:
        return _listings[-1][pattern]
    store: Any = store_for(pattern)
    try:
        found = store.glob(pattern)
    except store.client_errors() as exc:  # an unreachable endpoint, refused credentials
        raise OSError(f"cannot list the objects ({type(exc).__name__}: {exc})") from exc
    listed = {url: found[url] for url in sorted(found)}
    if _listings:
        _listings[-1][pattern] = listed
    return listed


def missing_bucket(url: str | os.PathLike[str]) -> str | None:
    """The bucket (container) of the URL `url` if the store says it does not exist; None if it
    does, or if the store cannot tell (a refused or failed request: the build finds out)."""
    store = store_for(url)
    bucket = os.fspath(url).split("://", 1)[1].partition("/")[0]
    cache = _listings[-1] if _listings else {}
    key = f"bucket:{url_scheme(url)}://{bucket}"
    if key not in cache:
        cache[key] = store.bucket_exists(bucket)  # type: ignore[attr-defined]
    return None if cache[key] else bucket


def location(text: str | os.PathLike[str]) -> Any:
    """A configured location: a `StoreURL` for a URL, else a `pathlib.Path` (of the path a
    `file://` URL names)."""
    from pathlib import Path

    return StoreURL(os.fspath(text)) if is_url(text) else Path(local_path(text))
