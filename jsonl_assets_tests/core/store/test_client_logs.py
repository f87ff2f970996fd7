"""The object-store clients' own log records do not reach the console: the store reports each
failure as one clear error (gcsfs logged a 50-line traceback once out of retries, printed by
Python's last-resort handler before the build's `config error:` line)."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import logging, sys
from jsonl_assets.core.store import {module}
{module}.{cls}()
for name in sys.argv[1:]:
    try:
        raise ConnectionError("Cannot connect to host 127.0.0.1:1")
    except ConnectionError:
        logging.getLogger(name).exception("%s gave up", name)
"""


@pytest.mark.parametrize(
    ("module", "cls", "loggers"),
    [
        ("gcs", "GCSStore", ["gcsfs.retry", "gcsfs", "fsspec"]),
        ("s3", "S3Store", ["s3fs", "botocore.retryhandler", "aiobotocore"]),
        ("azure", "AzureStore", ["adlfs", "azure.core.pipeline"]),
    ],
)
def test_a_clients_logged_failure_prints_nothing(module: str, cls: str, loggers: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(module=module, cls=cls), *loggers],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_a_handler_the_user_configured_still_receives_the_records() -> None:
    script = SCRIPT.format(module="gcs", cls="GCSStore").replace(
        "import logging, sys",
        "import logging, sys\nlogging.basicConfig(format='%(name)s: %(message)s')",
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "gcsfs.retry"], capture_output=True, text=True, timeout=60
    )
    assert done.stderr.splitlines()[0] == "gcsfs.retry: gcsfs.retry gave up"
