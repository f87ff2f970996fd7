"""Ctrl-C (SIGINT) to `jsonl-assets verify` or `jsonl-assets report` ends it with one line,
`interrupted`, exit 130 and no traceback, as the build ends (it printed Python's
KeyboardInterrupt traceback). The command is held, deterministically, on a request to an object
store that accepts the connection and never answers; the signal is sent once it has connected."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from jsonl_assets_tests.test_restart import CLI


def _interrupted_while_waiting(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.getsockname()[1]}",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "DAGSTER_HOME": str(cwd / "dagster_home"),
        }
        process = subprocess.Popen(
            [str(CLI), *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        server.settimeout(120)
        connection, _ = server.accept()  # the command waits for the store's answer now
        with connection:
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_ctrl_c_ends_verify_with_one_line(tmp_path: Path) -> None:
    done = _interrupted_while_waiting(["verify", "s3://bucket/package"], tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines() == ["interrupted"], done.stderr
    assert done.returncode == 130, done.stderr


def test_ctrl_c_ends_report_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.jsonl").write_text('{"id": "a", "text": "x"}\n')
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        "dataset: {name: d, description: d, license: CC0-1.0}\n"
        "output: {dir: 's3://bucket/package', work_dir: work, quarantine_dir: quarantine}\n"
        "sources:\n"
        "  - {name: s, paths: ['raw/*.jsonl'], objective: cpt, adapter: text, split: train}\n"
    )
    done = _interrupted_while_waiting(["report", "--config", str(config)], tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines() == ["interrupted"], done.stderr
    assert done.returncode == 130, done.stderr


pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child process")
