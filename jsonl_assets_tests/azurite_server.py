"""A real Azure Blob server on loopback: Azurite (npm; `python3 run.py test` installs it into
.venv/azurite), in memory on 127.0.0.1, started and stopped by PID by the `azure_endpoint`
fixture; `azure` gives a test a container of its own and the connection string for it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from jsonl_assets.core.store import base

from .object_server import ObjectServer, free_port, new_bucket, serving

REPO = Path(__file__).resolve().parents[1]
AZURITE = REPO / ".venv" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
# Azurite's fixed development key (public, documented; it opens nothing but the emulator).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
SCHEMES = ("az", "abfs")


def connection_string(endpoint: str) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
        f"BlobEndpoint={endpoint}/{ACCOUNT};"
    )


@pytest.fixture(scope="session")
def azure_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    command = str(AZURITE) if AZURITE.exists() else shutil.which("azurite-blob")
    if command is None:
        pytest.fail(f"Azurite is not installed ({AZURITE}): `python3 run.py test` installs it")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    args = ["--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence"]
    # --disableTelemetry: Azurite would otherwise send usage data out; nothing leaves loopback.
    args += ["--silent", "--loose", "--skipApiVersionCheck", "--disableTelemetry"]
    ready = f"{endpoint}/{ACCOUNT}?comp=list"
    with serving([command, *args], ready, SCHEMES, cwd=tmp_path_factory.mktemp("azurite")):
        yield endpoint


@pytest.fixture
def azure(azure_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> ObjectServer:
    """An empty container of its own on the loopback server, and its connection string in the
    environment of the test and of the processes it starts (no other Azure variable)."""
    for key in ("ACCOUNT_NAME", "ACCOUNT_KEY", "SAS_TOKEN", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv(f"AZURE_STORAGE_{key}", raising=False)
    env = {"AZURE_STORAGE_CONNECTION_STRING": connection_string(azure_endpoint)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    container = new_bucket()
    base.store_for(f"az://{container}").fs.mkdir(container)  # type: ignore[attr-defined]
    return ObjectServer("az", azure_endpoint, container, env)
