"""What a test sees of an object-storage server on loopback (moto's S3, fake-gcs-server,
Azurite): its scheme, a bucket of the test's own, and the environment that points clients at
the server. `object_store` runs a test once per backend."""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jsonl_assets.core.store import base


@dataclass(frozen=True)
class ObjectServer:
    scheme: str
    endpoint: str
    bucket: str
    env: dict[str, str] = field(default_factory=dict)

    def url(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket}/{key}"


_buckets = itertools.count()


def new_bucket() -> str:
    """A bucket (or container) name no other test uses, in this process or another: the
    package lock of a URL is a local folder keyed by the URL, shared by every process on the
    machine (pytest-xdist's workers, a second test run), so equal names would share a lock."""
    return f"jsonl-assets-test-{os.getpid()}-{next(_buckets)}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    """Until `url` answers (any HTTP status) or the server has died."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server for {url} did not start") from None
            time.sleep(0.1)


@contextlib.contextmanager
def serving(
    command: list[str], ready: str, schemes: tuple[str, ...], cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` running until the block ends (then stopped by its PID), once `ready` answers;
    the stores of `schemes` are made afresh inside the block and after it (their clients
    read the environment that points them at a server)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=cwd)
    try:
        wait_for(ready, process)
        for scheme in schemes:
            base._stores.pop(scheme, None)
        yield process
    finally:
        for scheme in schemes:
            base._stores.pop(scheme, None)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def pending_uploads(store: object, folder: str) -> list[str] | None:
    """The unfinished uploads under `folder`, where the backend can list them (S3, Azure; not
    GCS, whose API lists no resumable upload)."""
    listing = getattr(store, "incomplete_uploads", None)
    return None if listing is None else sorted(listing(folder))


BACKEND_FIXTURES = {"s3": "s3", "gs": "gcs", "az": "azure"}


@pytest.fixture(params=sorted(BACKEND_FIXTURES))
def object_store(request: pytest.FixtureRequest) -> ObjectServer:
    """A bucket on each loopback server in turn (the test runs once per backend)."""
    server: ObjectServer = request.getfixturevalue(BACKEND_FIXTURES[request.param])
    return server
