"""The build's worker pools: forked, unless polars' thread pool runs in the process and the
work may call polars (a forked child's polars call would wait forever for the parent's pool
threads), then spawned."""

from __future__ import annotations

import signal
import subprocess
import sys

SCRIPT = """
import polars as pl
from jsonl_assets.core import build_workers as bw

def methods():
    out = []
    for polars in (True, False):
        pool = bw.worker_pool(1, polars=polars)
        out.append(pool._mp_context.get_start_method())
        assert pool.submit(sum, [1, 2]).result(timeout=60) == 3
        bw.release_pool(pool)
    return out

print(bw.polars_running(), *methods())
pl.DataFrame({"a": list(range(200_000))}).group_by("a").len()  # starts polars' pool
print(bw.polars_running(), *methods())
frame = bw.worker_pool(1).submit(pl.DataFrame({"a": [3, 1, 3]}).unique, maintain_order=True)
print(frame.result(timeout=60)["a"].to_list())
"""


def test_workers_are_spawned_only_when_polars_runs_and_the_work_may_call_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "False fork fork",
        "True spawn fork",
        "[3, 1]",  # polars in a worker of a process where polars ran
    ]


IGNORED_SCRIPT = """
import os, signal
from jsonl_assets.core import build_workers as bw

def hup_self():
    os.kill(os.getpid(), signal.SIGHUP)
    return "worker alive"

bw.install()
os.kill(os.getpid(), signal.SIGHUP)  # ignored since start-up: no interrupt
print("cli alive", signal.getsignal(signal.SIGTERM) is bw._interrupted)
print(bw.worker_pool(1, polars=False).submit(hup_self).result(timeout=60))
bw.shutdown_pools()
"""


def test_a_signal_ignored_at_start_stays_ignored_by_the_cli_and_its_workers() -> None:
    """`nohup jsonl-assets build`: SIGHUP ignored by the parent stays ignored (SIGTERM is
    still the build's own)."""
    assert _run_ignoring(IGNORED_SCRIPT, signal.SIGHUP) == ["cli alive True", "worker alive"]


def _run_ignoring(script: str, sig: int) -> list[str]:
    """The lines `script` prints, run by a parent that ignores `sig`; it must exit 0."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: signal.signal(sig, signal.SIG_IGN),
    )
    assert done.returncode == 0, (done.returncode, done.stderr)
    return done.stdout.splitlines()


TERM_IGNORED_SCRIPT = """
import os, signal, subprocess
from jsonl_assets.core import build_workers as bw

def term_self_then_start_a_program():
    os.kill(os.getpid(), signal.SIGTERM)  # ignored since start-up: the worker lives on
    status = subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True).stdout
    mask = next(int(line.split()[1], 16) for line in status.splitlines() if line.startswith("SigIgn:"))
    return "program ignores SIGTERM" if mask & (1 << (signal.SIGTERM - 1)) else "program may be stopped"

bw.install()
os.kill(os.getpid(), signal.SIGTERM)
print("cli alive")
print(bw.worker_pool(1, polars=False).submit(term_self_then_start_a_program).result(timeout=60))
bw.shutdown_pools()
"""


def test_an_ignored_sigterm_stays_ignored_but_is_not_passed_on_to_the_programs_started() -> None:
    """A parent that ignores SIGTERM: the CLI and its workers ignore it, but a program they
    start (Dagster's compute-log `tail`, which Dagster stops with SIGTERM) does not inherit the
    ignore, or it would outlive the build holding its stdout, and the caller would wait forever."""
    lines = _run_ignoring(TERM_IGNORED_SCRIPT, signal.SIGTERM)
    assert lines == ["cli alive", "program may be stopped"]


KILLED_SCRIPT = """
import os, signal, time
from jsonl_assets.core import build_workers as bw

pool = bw.worker_pool(1, polars=False)
os.kill(bw.submit(pool, os.getpid).result(timeout=60), signal.SIGKILL)  # killed from outside
while not pool._broken:  # the pool's manager thread notices the death
    time.sleep(0.05)
try:
    bw.submit(pool, sum, [1, 2])
except bw.WorkerDied as exc:
    print(exc)
bw.shutdown_pools()
"""


def test_a_worker_killed_from_outside_is_a_worker_died_at_the_next_submit() -> None:
    """The chunk runner submits chunk after chunk: the pool says a worker was killed at a
    submit as well as at a result, and both are the same WorkerDied, not BrokenProcessPool."""
    done = subprocess.run(
        [sys.executable, "-c", KILLED_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "a worker process of the build died with SIGKILL (killed from outside, or by the "
        "kernel's out-of-memory killer: see dmesg); rerun to resume"
    ]


ABORTED_SCRIPT = """
import multiprocessing, os, struct, sys
from jsonl_assets.core import build_workers as bw

def aborts():
    os.abort()  # as a native library does when an allocation fails

def aborts_mid_result():
    # The pool's shared result pipe holds half a message when the worker dies: the pool's
    # thread waits for the rest of it and never says the pool is broken.
    results = multiprocessing.current_process()._args[1]
    os.write(results._writer.fileno(), struct.pack("!i", 1000) + b"x" * 10)
    os.abort()

for fn in (aborts, aborts_mid_result):
    pool = bw.worker_pool(1, polars=False)
    try:
        bw.result(bw.submit(pool, fn))
    except bw.WorkerDied as exc:
        print(exc)
    bw.shutdown_pools()
"""


def _run_script(script: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`script` run by a new interpreter (its pools its own), which must exit 0."""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr
    return done


def test_a_worker_that_aborts_is_said_so_and_never_hangs_the_build() -> None:
    """A worker that dies of SIGABRT (polars' allocator on a failed allocation) is said to,
    with its likely cause, not taken for one killed from outside; one that dies while it
    wrote its result fails the build as well, instead of leaving it waiting forever."""
    done = _run_script(ABORTED_SCRIPT, 120)
    aborted = (
        "a worker process of the build died with SIGABRT (a native library aborted: "
        "out of memory?); rerun to resume"
    )
    assert done.stdout.splitlines() == [aborted, aborted]


NESTED_SCRIPT = """
import os, signal
from jsonl_assets.core import build_workers as bw

def dies():
    os.kill(os.getpid(), signal.SIGKILL)

def partition():
    # A partition worker: forked from the CLI, it must not hold the CLI's pools nor cleanups,
    # and a chunk worker of its own killed is said by its signal.
    inherited = (len(bw._pools), len(bw._cleanups))
    pool = bw.worker_pool(2, polars=False)
    try:
        bw.result(bw.submit(pool, dies))
    except bw.WorkerDied as exc:
        return inherited, str(exc)
    finally:
        bw.release_pool(pool)

bw.on_interrupt(lambda: None)
outer = bw.worker_pool(3, polars=False)
futures = [bw.submit(outer, partition) for _ in range(3)]
for future in futures:
    print(*bw.result(future))
bw.shutdown_pools()
"""


def test_a_forked_worker_holds_none_of_its_parents_pools() -> None:
    """A worker of a pool is forked with this module's lists: its parent's pools (its sibling
    workers among them) and cleanups are not its own. Its own chunk pool broken, it waits on
    its own children only: the death is said by its signal, never as "AssertionError: can
    only join a child process" (waiting on a sibling)."""
    done = _run_script(NESTED_SCRIPT, 60)
    died = (
        "a worker process of the build died with SIGKILL (killed from outside, or by the "
        "kernel's out-of-memory killer: see dmesg); rerun to resume"
    )
    assert done.stdout.splitlines() == [f"(0, 0) {died}"] * 3, done.stdout + done.stderr
