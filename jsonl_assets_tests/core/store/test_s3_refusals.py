"""A request S3 refuses (wrong credentials) fails naming the operation, the URL and the endpoint,
as its own error class, for every kind of store call: the message an operator with several
buckets needs. A moto server enforcing authentication runs on 127.0.0.1 in a child process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jsonl_assets.core.store import base
from jsonl_assets.core.store.s3 import S3Store

from ...moto_server import aws_env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def refusing_server() -> Iterator[str]:
    """The endpoint of a moto server that answers one request unauthenticated (the bucket's
    creation), then refuses the dummy keys; stopped by its PID."""
    port = _free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()  # loopback
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield endpoint
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def refusing_s3(refusing_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The AWS environment pointing at that server, with a bucket made while it still answered."""
    for key, value in aws_env(refusing_server).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    base._stores.pop("s3", None)
    store = base.store_for("s3://out")
    with contextlib.suppress(OSError):  # the server's one unauthenticated answer: the first test's
        store.call("create_bucket", Bucket="out")  # type: ignore[attr-defined]
    try:
        yield refusing_server
    finally:
        base._stores.pop("s3", None)


CALLS: dict[str, Callable[[S3Store], Any]] = {
    "list": lambda store: list(store.list("s3://out/pkg")),
    "stat": lambda store: store.stat("s3://out/pkg/metadata.json"),
    "put": lambda store: store.put_if("out", "pkg/metadata.json", b"{}", None),
    "remove": lambda store: store.remove("s3://out/pkg/metadata.json"),
    "uploads": lambda store: store.remove_partials("s3://out/pkg"),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_refused_request_names_its_url_operation_and_endpoint(
    refusing_s3: str, name: str
) -> None:
    store = base.store_for("s3://out")
    assert isinstance(store, S3Store)
    with pytest.raises(PermissionError) as raised:
        CALLS[name](store)
    message = str(raised.value)
    assert "s3://out/pkg" in message, message
    assert f"at {refusing_s3}" in message, message
    # The server's reason (a HEAD's answer has no body: its status text).
    assert "Access Key Id you provided does not exist" in message or "Forbidden" in message
    assert message.startswith("S3 "), message
