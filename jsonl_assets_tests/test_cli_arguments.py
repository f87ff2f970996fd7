"""The CLI's argument edges: `--workers` bounded (a count past 2**31 crashed the build after
its plan), a partition named twice built once (two runs of it at once failed the build), and
`report` with no published package refused in one line (it made an empty package dir)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from jsonl_assets.cli_arguments import MAX_WORKERS
from jsonl_assets_tests import test_restart as restart


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [str(restart.CLI), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("count", [str(MAX_WORKERS + 1), "2147483648"])
def test_a_worker_count_past_the_bound_is_refused_in_one_line(
    sample_project: Path, count: str
) -> None:
    done = _cli("build", "--config", str(sample_project), "--workers", count)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1].endswith(f"must be at most {MAX_WORKERS}: '{count}'")
    assert "Traceback" not in done.stderr
    assert not (sample_project.parent / "package").exists()


def test_a_partition_named_twice_is_built_once(tmp_path: Path) -> None:
    config = restart.make_project(tmp_path, chats=200, notes=200)
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    args = ("build", "--config", str(config), "--force", "--workers", "2")
    done = _cli(*args, "--partition", "cpt|train", "--partition", "cpt|train", env=env)
    assert done.returncode == 0, done.stderr
    assert "building 1 partition(s) of " in done.stdout
    assert "with 2 worker(s) (up to 1 partition(s) at once)" in done.stdout
    assert (tmp_path / "package" / "metadata.json").is_file()


def test_a_report_with_no_package_published_says_so(sample_project: Path) -> None:
    done = _cli("report", "--config", str(sample_project))
    package = sample_project.parent / "package"
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"no package to report on: {package / 'metadata.json'} does not exist (build it first)"
    ]
    assert not package.exists()
