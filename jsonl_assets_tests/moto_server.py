"""A real S3 server on loopback for the object-storage tests: moto's `ThreadedMotoServer` on
127.0.0.1, port 0, started and stopped by the `s3_endpoint` fixture; `s3` gives a test a
bucket and the AWS environment pointing at the server (endpoint, dummy keys, region);
`recorded_requests` lists the requests the server got meanwhile (moto's recorder)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from jsonl_assets.core.store import base

from .object_server import ObjectServer, new_bucket


def start_server() -> tuple[object, str]:
    # moto's recorder writes where this says, read once when moto is imported.
    folder = tempfile.mkdtemp(prefix="moto-recording-")
    os.environ.setdefault("MOTO_RECORDER_FILEPATH", os.path.join(folder, "requests.jsonl"))
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def aws_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@contextlib.contextmanager
def recorded_requests(endpoint: str) -> Iterator[list[tuple[str, str]]]:
    """The (method, path) of every request the server gets inside the block, from any
    process, filled in when the block ends; the path keeps its query (`/b?list-type=2&...`)."""
    requests: list[tuple[str, str]] = []

    def call(action: str) -> bytes:
        with urllib.request.urlopen(  # the loopback server
            urllib.request.Request(f"{endpoint}/moto-api/recorder/{action}", method="POST")
        ) as response:
            return bytes(response.read())

    call("reset-recording")
    call("start-recording")
    try:
        yield requests
    finally:
        call("stop-recording")
        for line in call("download-recording").decode().splitlines():
            entry = json.loads(line)
            url = urllib.parse.urlsplit(entry["url"])
            query = f"?{urllib.parse.unquote(url.query)}" if url.query else ""
            requests.append((entry["method"], urllib.parse.unquote(url.path) + query))
        call("reset-recording")


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The server, started once for the session (moto keeps its buckets in the process, so
    each test gets a bucket of its own instead of a server of its own)."""
    server, endpoint = start_server()
    base._stores.pop("s3", None)  # a store made with another environment
    try:
        yield endpoint
    finally:
        base._stores.pop("s3", None)
        server.stop()  # type: ignore[attr-defined]


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ObjectServer]:
    """An empty bucket of its own on the loopback server, and the AWS environment (endpoint,
    dummy keys) pointing at it for the test and the processes it starts."""
    env = aws_env(s3_endpoint)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    bucket = new_bucket()
    base.store_for(f"s3://{bucket}").call("create_bucket", Bucket=bucket)  # type: ignore[attr-defined]
    yield ObjectServer("s3", s3_endpoint, bucket, env)
