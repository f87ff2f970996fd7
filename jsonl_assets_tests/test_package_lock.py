"""Two builds into one package take turns: the package dir itself is locked for a whole build.

Two configs with the same `output.dir` but their own work dirs are built by real `jsonl-assets
build` processes at once. The one that comes second fails fast, naming the lock and its holder
(pid, host, start time), having written nothing; with `--wait` it builds after the first has
published. A lock left by a builder killed with SIGKILL is taken over by the next one. A
Dagster run's `shards` and `manifest` steps take the same lock (a run started by the CLI holding
it is let through by the CLI's token). A build is paused at an exact moment through the test
hook `JSONL_ASSETS_PAUSE_AT` (jsonl_assets/core/fault_points.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import orjson
import pytest
import yaml

from jsonl_assets.core.fault_points import ENV_VAR, PAUSE_ENV_VAR, PAUSE_FILE_ENV_VAR
from jsonl_assets_tests import test_restart as restart

KEYS = ("cpt|train",)
LOCK = ".jsonl-assets.lock"
HOLDER = ".jsonl-assets.lock.json"


def project(root: Path, package: Path, notes: int) -> Path:
    """A test project whose package dir is `package` (shared); work and quarantine its own.
    Retention 0: the shards the other build published go when this one publishes."""
    config = restart.make_project(root, chats=200, notes=notes)
    data = yaml.safe_load(config.read_text())
    data["output"]["dir"] = str(package)
    data["output"]["retention_hours"] = 0
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_build_outlives_its_test():
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class Build:
    """A `jsonl-assets build` subprocess; stdout and stderr collected by reader threads."""

    def __init__(
        self,
        config: Path,
        *args: str,
        pause_at: str | None = None,
        workers: int = 1,
        keys: tuple[str, ...] = KEYS,
        env: dict[str, str] | None = None,
        session: bool = False,
    ) -> None:
        home = config.parent / "dagster_home"
        home.mkdir(exist_ok=True)
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        self.pause_file = config.parent / "paused"
        full = {**os.environ, **(env or {}), "DAGSTER_HOME": str(home)}
        for var in (ENV_VAR, PAUSE_ENV_VAR, PAUSE_FILE_ENV_VAR):
            full.pop(var, None)
        if pause_at:
            full[PAUSE_ENV_VAR] = pause_at
            full[PAUSE_FILE_ENV_VAR] = str(self.pause_file)
        cmd = [str(restart.CLI), "build", "--config", str(config), "--workers", str(workers)]
        for key in keys:
            cmd += ["--partition", key]
        self.proc = subprocess.Popen(
            [*cmd, *args],
            env=full,
            cwd=config.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=session,  # its own process group, as a terminal's job has
        )
        _STARTED.append(self.proc)
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(s, b), daemon=True)
            for s, b in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)

    def wait_until(self, predicate, what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.proc.poll() is not None:
                self.finish()
                pytest.fail(f"build ended (rc {self.proc.returncode}) before {what}:\n{self.text}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}:\n{self.text}")
            time.sleep(0.05)

    def wait_paused(self) -> None:
        self.wait_until(self.pause_file.exists, "the pause point")

    def resume(self) -> None:
        self.pause_file.unlink()

    def finish(self, timeout: float = 120) -> int:
        rc = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        return rc

    @property
    def text(self) -> str:
        return "".join(self.out) + "".join(self.err)


def _holder(package: Path) -> dict:
    return orjson.loads((package / HOLDER).read_bytes())


@pytest.mark.crash
def test_two_builds_into_one_package_take_turns(tmp_path: Path) -> None:
    package = tmp_path / "package"
    expected = {}
    for name, notes in (("a", 600), ("b", 700)):
        ref = tmp_path / f"ref-{name}"
        restart.build_stages(restart.make_project(ref, chats=200, notes=notes), KEYS)
        expected[name] = restart.tree(ref / "package")
    assert expected["a"] != expected["b"]
    config_a = project(tmp_path / "a", package, 600)
    config_b = project(tmp_path / "b", package, 700)

    # A holds the package (paused after its first shard went in); B fails fast, naming both.
    a = Build(config_a, pause_at="shard.journaled:1")
    a.wait_paused()
    b = Build(config_b)
    rc = b.finish(timeout=60)
    assert rc != 0, f"the second build ran while the first held the package:\n{b.text}"
    assert str(package / LOCK) in b.text, b.text
    assert f"pid {a.proc.pid}" in b.text and socket.gethostname() in b.text, b.text
    assert "Traceback" not in b.text, b.text
    assert not (tmp_path / "b" / "work").exists(), "the refused build wrote to its work dir"
    holder = _holder(package)
    assert holder["pid"] == a.proc.pid and holder["host"] == socket.gethostname()
    assert holder["started"] in b.text and holder["command"] == "jsonl-assets build"
    assert "is locked by another build" in b.text and "held by `jsonl-assets build`, pid" in b.text

    # With --wait, B waits for A to publish (A's package is then whole), then builds.
    b = Build(config_b, "--wait", pause_at="marker:extracted:1")
    b.wait_until(lambda: "waiting" in "".join(b.err), "the waiting message")
    assert b.proc.poll() is None
    a.resume()
    assert a.finish() == 0, a.text
    b.wait_paused()  # B holds the lock now, building in its own work dir
    assert {k: v for k, v in restart.tree(package).items() if not k.startswith(".")} == expected[
        "a"
    ]
    assert _holder(package)["pid"] == b.proc.pid
    b.resume()
    assert b.finish() == 0, b.text
    assert restart.tree(package) == expected["b"], "B's package is not the one B built alone"

    # A builder killed with SIGKILL leaves the lock file and its holder; the next one takes it.
    a = Build(config_a, "--force", pause_at="shard.journaled:1")
    a.wait_paused()
    a.proc.send_signal(signal.SIGKILL)
    a.finish()
    assert _holder(package)["pid"] == a.proc.pid
    again = Build(config_a)
    assert again.finish() == 0, again.text
    assert f"pid {a.proc.pid}" in again.text, again.text  # names the stale holder it replaced
    assert restart.tree(package) == expected["a"], "lock files left behind, or bytes differ"


HOLD = """
import sys, time
from pathlib import Path
from jsonl_assets.core.store.package_lock import package_lock
with package_lock(Path(sys.argv[1]), timeout=0):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_dagster_run_waits_for_the_package_lock_then_fails_naming_the_holder(
    tmp_path: Path,
) -> None:
    from jsonl_assets.defs.assets import STAGE_ASSETS
    from jsonl_assets.defs.resources import PipelineResource

    config = restart.make_project(tmp_path, chats=200, notes=300)
    package = tmp_path / "package"
    package.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(package)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(restart.REPO)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with dg.instance_for_test() as instance:
            result = dg.materialize(
                STAGE_ASSETS,
                partition_key=KEYS[0],
                instance=instance,
                resources={
                    "pipeline": PipelineResource(config_path=str(config), lock_timeout_seconds=1)
                },
                raise_on_error=False,
            )
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        assert failure.step_key == "shards"  # the record stages ran; the package was not touched
        error = failure.event_specific_data.error
        while error.cls_name.startswith("Dagster"):
            error = error.cause
        assert error.cls_name == "Failure"  # said in one line (defs/user_errors.py)
        assert f"pid {holder.pid}" in error.message and str(package / LOCK) in error.message
        assert sorted(p.name for p in package.iterdir()) == [LOCK, HOLDER]
    finally:
        holder.kill()
        holder.wait()
    # Once the holder is gone (killed: its lock is free at once), the same run builds.
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            STAGE_ASSETS,
            partition_key=KEYS[0],
            instance=instance,
            resources={"pipeline": PipelineResource(config_path=str(config))},
            raise_on_error=False,
        )
    assert result.success
    assert not (package / LOCK).exists() and not (package / HOLDER).exists()


def test_a_build_refused_while_a_report_holds_the_package_names_the_report(
    tmp_path: Path,
) -> None:
    """Before: `jsonl-assets report` holds the package lock while it reads the package, and a
    build started meanwhile exited 3 with `<dir> is locked by another build: ... held by pid
    N` - there was no other build, N was the report. The holder's record now says what it is."""
    config = restart.make_project(tmp_path, chats=200, notes=300)
    restart.build_stages(config, KEYS)
    package = tmp_path / "package"
    pause = tmp_path / "report-paused"
    env = {**os.environ, PAUSE_ENV_VAR: "before_rename:report.html"}
    env[PAUSE_FILE_ENV_VAR] = str(pause)
    env.pop(ENV_VAR, None)
    report = subprocess.Popen(
        [str(restart.CLI), "report", "--config", str(config)],
        env={**env, "DAGSTER_HOME": str(tmp_path)},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _STARTED.append(report)  # type: ignore[arg-type]
    deadline = time.monotonic() + 90
    while not pause.exists():
        assert report.poll() is None, report.communicate()[0]
        assert time.monotonic() < deadline, "the report never reached its pause point"
        time.sleep(0.05)
    build = Build(config)
    assert build.finish(timeout=60) == 3, build.text
    said = build.text
    assert "is locked by a report (`jsonl-assets report`; a report and a build exclude" in said
    assert f"is held by `jsonl-assets report`, pid {report.pid} on host" in said, said
    assert "another build" not in said and "rerun with --wait" in said, said
    assert _holder(package)["command"] == "jsonl-assets report"
    pause.unlink()
    assert report.wait(timeout=120) == 0, report.communicate()[0]
    # The other way round: a build's record says so.
    from jsonl_assets.core.store.package_lock import BUILD, REPORT, PackageBusyError, PackageLock

    lock = PackageLock(package, BUILD)
    lock.acquire()
    try:
        with pytest.raises(PackageBusyError, match=r"locked by another build: .* held by `jsonl"):
            PackageLock(package, REPORT).acquire(0)
    finally:
        lock.release()


@pytest.mark.parametrize("wait", ["nan", "-1", "inf", "soon"])
def test_a_wait_that_is_not_a_finite_number_of_seconds_is_refused(
    wait: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from jsonl_assets.cli import main

    for command in (["build", "--config", "x.yaml", "--wait", wait], ["report", "--wait", wait]):
        with pytest.raises(SystemExit) as info:
            main(command)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "argument --wait" in err and "Traceback" not in err
