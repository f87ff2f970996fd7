"""SIGINT / SIGTERM / SIGKILL to `jsonl-assets build`: it stops at once, whole, and resumes.

A real CLI build is paused at an exact moment (the test hook `JSONL_ASSETS_PAUSE_AT` of
jsonl_assets/core/fault_points.py: during extraction in the parent or a worker, while shards move
into the package, while metadata.json is written, or during start-up) and signalled. It must
exit 130 (SIGINT) or 143 (SIGTERM), print `interrupted; rerun to resume` once and no
traceback, start no further partition, and leave no process of the build alive (every process
the build started carries a tag in its environment, found through /proc). kill -9 of the parent
leaves no worker behind: workers die with their parent. The next build resumes and ends with a
package and a quarantine byte-identical to an uninterrupted build.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from jsonl_assets.core.fault_points import PAUSE_ENV_VAR, PAUSE_FILE_ENV_VAR
from jsonl_assets_tests import test_restart as restart
from jsonl_assets_tests.test_package_lock import Build

KEYS = ("cpt|train", "sft|train")  # in this order: cpt|train (the one pausable mid-file) first
LINE = "interrupted; rerun to resume"
TAG = "JSONL_ASSETS_TEST_TAG"


def tagged_processes(tag: str) -> list[int]:
    """Live (not zombie) processes whose environment carries `TAG=tag`."""
    needle = f"{TAG}={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def _no_process_left(tag: str, within: float = 5.0) -> list[int]:
    deadline = time.monotonic() + within
    while (alive := tagged_processes(tag)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in alive:  # reported by the caller; not left running after the test
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return alive


# (name, workers, pause point or None for start-up, signal)
SCENARIOS = (
    ("--workers 1, mid-extraction, SIGINT", 1, "extract.batch:1", signal.SIGINT),
    ("--workers 1, shards into the package, SIGTERM", 1, "shard.journaled:2", signal.SIGTERM),
    ("--workers 2, mid-extraction, SIGINT", 2, "extract.batch:1", signal.SIGINT),
    ("--workers 2, mid-extraction, SIGTERM", 2, "extract.batch:1", signal.SIGTERM),
    (
        "--workers 2, metadata.json written, SIGTERM",
        2,
        "before_rename:metadata.json",
        signal.SIGTERM,
    ),
    ("--workers 2, start-up, SIGINT", 2, None, signal.SIGINT),
    # Ctrl-C in a terminal: SIGINT to the whole process group of the job.
    ("--workers 2, mid-extraction, Ctrl-C (group)", 2, "extract.batch:1", "group"),
)


def _scenario(base: Path, n: int, expected: dict, scenario: tuple) -> str:
    name, workers, pause_at, sig = scenario
    project = base / f"s{n}"
    config = restart.make_project(project)
    tag = uuid.uuid4().hex
    group = sig == "group"
    build = Build(
        config, pause_at=pause_at, workers=workers, keys=KEYS, env={TAG: tag}, session=group
    )
    if pause_at:
        build.wait_paused()
    else:
        build.wait_until(lambda: build.out, "the first line")
    started = time.monotonic()
    if group:
        sig = signal.SIGINT
        os.killpg(build.proc.pid, sig)
    else:
        build.proc.send_signal(sig)
    rc = build.finish(timeout=30)
    seconds = time.monotonic() - started
    text = build.text
    assert rc == 128 + sig, f"{name}: rc {rc}\n{text}"
    assert text.count(LINE) == 1, f"{name}: the line is not printed once\n{text}"
    assert "Traceback" not in text, f"{name}: a traceback\n{text}"
    assert not _no_process_left(tag), f"{name}: processes of the build left alive"
    if pause_at == "extract.batch:1" and workers == 1:
        # cpt|train was interrupted: the next partition was never started.
        assert not (project / "work" / "sft" / "train" / "extracted.json").exists(), name
    rerun = Build(config, workers=workers, keys=KEYS)
    assert rerun.finish() == 0, f"{name}: the rerun failed\n{rerun.text}"
    assert restart.outputs(project) == expected, f"{name}: the resumed build's bytes differ"
    return f"{name:48} rc {rc}  exited {seconds:4.1f} s after the signal"


@pytest.mark.crash
@pytest.mark.slow
def test_sigint_and_sigterm_stop_the_build_cleanly_and_it_resumes(tmp_path: Path) -> None:
    reference = tmp_path / "clean"
    restart.build_stages(restart.make_project(reference), KEYS)
    expected = restart.outputs(reference)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [pool.submit(_scenario, tmp_path, n, expected, s) for n, s in enumerate(SCENARIOS)]
        lines = [r.result() for r in runs]
    print("\n" + "\n".join(lines))


@pytest.mark.crash
def test_a_worker_killed_from_outside_fails_the_build_clearly(tmp_path: Path) -> None:
    reference = tmp_path / "clean"
    restart.build_stages(restart.make_project(reference), KEYS)
    config = restart.make_project(tmp_path / "worker")
    tag = uuid.uuid4().hex
    build = Build(config, pause_at="extract.batch:1", workers=2, keys=KEYS, env={TAG: tag})
    build.wait_paused()
    os.kill(int(build.pause_file.read_text()), signal.SIGTERM)
    rc = build.finish(timeout=60)
    assert rc == 1, build.text
    assert "a worker process of the build died" in build.text, build.text
    assert "Traceback" not in build.text, build.text
    assert not _no_process_left(tag)
    rerun = Build(config, workers=2, keys=KEYS)
    assert rerun.finish() == 0, rerun.text
    assert restart.outputs(config.parent) == restart.outputs(reference)


@pytest.mark.crash
def test_a_config_broken_during_the_build_is_a_config_error_not_a_killed_worker(
    tmp_path: Path,
) -> None:
    """A run in a worker loads the config again; made invalid meanwhile, its ConfigError
    reaches the CLI (it broke the pool, unpicklable: "killed from outside?")."""
    config = restart.make_project(tmp_path / "edited")
    tag = uuid.uuid4().hex
    build = Build(config, pause_at="extract.batch:1", workers=2, keys=KEYS, env={TAG: tag})
    build.wait_paused()
    config.write_text("dataset: [\n")
    build.resume()
    rc = build.finish(timeout=60)
    assert rc == 2, build.text
    assert f"config error: {config}: not valid YAML: line 2, column 1" in build.text, build.text
    assert "killed" not in build.text and "Traceback" not in build.text, build.text
    assert not _no_process_left(tag)


@pytest.mark.crash
def test_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    reference = tmp_path / "clean"
    restart.build_stages(restart.make_project(reference), KEYS)
    config = restart.make_project(tmp_path / "killed")
    tag = uuid.uuid4().hex
    build = Build(config, pause_at="extract.batch:1", workers=2, keys=KEYS, env={TAG: tag})
    build.wait_paused()
    worker = int(build.pause_file.read_text())
    assert worker != build.proc.pid  # paused in a worker process
    build.proc.send_signal(signal.SIGKILL)
    build.finish()
    alive = _no_process_left(tag)
    assert not alive, f"orphans of the killed build: {alive}"
    rerun = Build(config, workers=2, keys=KEYS)
    assert rerun.finish() == 0, rerun.text
    assert restart.outputs(config.parent) == restart.outputs(reference)


@pytest.mark.crash
@pytest.mark.parametrize("when", ["start-up", "mid-build"])
def test_a_closed_stdout_stops_the_build_cleanly_and_it_resumes(tmp_path: Path, when: str) -> None:
    """`jsonl-assets build | head -1`: the CLI (or a worker printing progress) writes to a
    closed pipe. The build stops as for a signal: exit 141 (SIGPIPE), one line on stderr, no
    traceback, no process left; the rerun ends byte-identical to an uninterrupted build."""
    reference = tmp_path / "clean"
    restart.build_stages(restart.make_project(reference), KEYS)
    config = restart.make_project(tmp_path / "piped")
    tag = uuid.uuid4().hex
    pause_file = config.parent / "paused"
    home = config.parent / "dagster_home"
    home.mkdir()
    env = {**os.environ, TAG: tag, "DAGSTER_HOME": str(home)}
    if when == "mid-build":
        env.update({PAUSE_ENV_VAR: "extract.batch:1", PAUSE_FILE_ENV_VAR: str(pause_file)})
    read, write = os.pipe()
    cmd = [str(restart.CLI), "build", "--config", str(config), "--workers", "2"]
    for key in KEYS:
        cmd += ["--partition", key]
    proc = subprocess.Popen(cmd, env=env, stdout=write, stderr=subprocess.PIPE, text=True)
    os.close(write)
    if when == "mid-build":
        with os.fdopen(read, "rb") as out:
            assert out.readline().startswith(b"building ")
            deadline = time.monotonic() + 90
            while not pause_file.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        pause_file.unlink()  # the pipe is closed: the next line the build prints breaks it
    else:
        os.close(read)  # closed before the build prints its first line
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGPIPE, err
    assert err.count(LINE) == 1 and "Traceback" not in err, err
    assert not _no_process_left(tag)
    rerun = Build(config, workers=2, keys=KEYS)
    assert rerun.finish() == 0, rerun.text
    assert restart.outputs(config.parent) == restart.outputs(reference)


def _children(pid: int) -> list[int]:
    """The live children of `pid`, oldest first (by start time)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.append((int(fields[19]), int(entry.name)))
    return [child for _, child in sorted(found)]


def _is_build_process(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return b"build" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return False


@pytest.mark.crash
def test_a_chunk_worker_killed_from_outside_is_said_by_its_signal(tmp_path: Path) -> None:
    """kill -9 of a chunk worker (a process of a partition worker's chunk pool) in a build of
    several partitions on several workers: the partition fails with the worker's death and
    its signal, never with an error of the partition worker waiting on processes that are not
    its children (its parent's partition workers, which a forked process inherits the list of:
    "AssertionError: can only join a child process"). The victim is a chunk worker of the
    partition worker started last (it inherited the others), paused at its first batch."""
    config = restart.make_project(tmp_path / "chunks")
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc["output"]["chunk_bytes"] = 16384  # every partition: several chunks
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    tag = uuid.uuid4().hex
    keys = ("sft|train", "sft|validation", "sft|test", "cpt|train")
    build = Build(config, pause_at="chunk.batch:1", workers=2, keys=keys, env={TAG: tag})
    build.wait_paused()
    victim = None
    deadline = time.monotonic() + 60
    while victim is None and time.monotonic() < deadline and build.proc.poll() is None:
        time.sleep(1.0)  # every chunk worker started meanwhile is paused at its first batch
        later = [w for w in _children(build.proc.pid) if _is_build_process(w)][1:]
        chunk_workers = [c for w in later for c in _children(w) if _is_build_process(c)]
        victim = chunk_workers[0] if chunk_workers else None
        if victim is None:  # the later partition worker has no chunk pool yet: let it go on
            build.pause_file.unlink(missing_ok=True)
    assert victim is not None, build.text
    os.kill(victim, signal.SIGKILL)
    while build.proc.poll() is None:  # the other workers go on past their pause
        build.pause_file.unlink(missing_ok=True)
        time.sleep(0.05)
    rc = build.finish(timeout=60)
    assert rc == 1, build.text
    assert "a worker process of the build died with SIGKILL" in build.text, build.text
    assert "rerun to resume" in build.text, build.text
    assert "AssertionError" not in build.text and "Traceback" not in build.text, build.text
    assert not _no_process_left(tag)
