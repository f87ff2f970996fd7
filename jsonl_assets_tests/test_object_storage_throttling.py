"""A busy S3: a build and a verify whose requests are refused (503 SlowDown, 500
InternalError: the second of each HTTP method and every twentieth after it) by a loopback proxy
in front of the moto server retry, and end with the same bytes as a build never refused. (Every
third request, as before: 190 s of the clients' retry back-off, 18% of the CI run; every tenth:
35 s of it.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jsonl_assets.core.store.base import read_bytes, store_for

from .moto_server import aws_env
from .object_server import ObjectServer, pending_uploads
from .test_object_storage_package import _object_config, _shards
from .throttling_proxy import throttling

pytestmark = pytest.mark.slow


def _cli(*args: str, endpoint: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **aws_env(endpoint), "DAGSTER_HOME": str(home)}
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "jsonl_assets.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_build_through_a_throttling_s3_retries_and_gives_the_bytes_of_a_calm_one(
    s3: ObjectServer, sample_project: Path, tmp_path: Path
) -> None:
    calm = _object_config(s3, tmp_path / "calm", sample_project, package="calm")
    busy = _object_config(s3, tmp_path / "busy", sample_project, package="busy")
    built = _cli("build", "--config", str(calm), endpoint=s3.endpoint, home=tmp_path / "h1")
    assert built.returncode == 0, built.stdout + built.stderr

    with throttling(s3.endpoint, every=20) as proxy:
        built = _cli("build", "--config", str(busy), endpoint=proxy.endpoint, home=tmp_path / "h2")
        assert built.returncode == 0, built.stdout + built.stderr
        verified = _cli("verify", s3.url("busy"), endpoint=proxy.endpoint, home=tmp_path / "h2")
        assert verified.returncode == 0, verified.stdout + verified.stderr
    # Every kind of request the build makes was refused at least once on its way.
    for method in ("GET", "HEAD", "PUT", "DELETE"):
        assert proxy.refused[method] > 0, (method, proxy.refused, proxy.forwarded)
    assert sum(proxy.refused.values()) * 10 <= sum(proxy.forwarded.values()) + 5
    print(f"refused {dict(proxy.refused)}, forwarded {dict(proxy.forwarded)}")

    assert _shards(s3.url("busy")) == _shards(s3.url("calm"))
    assert read_bytes(s3.url("busy/metadata.json")) == read_bytes(s3.url("calm/metadata.json"))
    assert _quarantine(s3, "busy") == _quarantine(s3, "calm") != {}
    assert pending_uploads(store_for(s3.url("x")), s3.url("")) in (None, [])


def _quarantine(s3: ObjectServer, package: str) -> dict[str, bytes]:
    """Every quarantine file of the package, by its path under the quarantine folder."""
    store, files, todo = store_for(s3.url("x")), {}, [""]
    while todo:
        folder = todo.pop()
        for entry in store.list(s3.url(f"{package}-quarantine/{folder}".rstrip("/"))):
            rel = f"{folder}{entry.name}"
            if entry.is_dir:
                todo.append(f"{rel}/")
            else:
                files[rel] = read_bytes(s3.url(f"{package}-quarantine/{rel}"))
    return files
