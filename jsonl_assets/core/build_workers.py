"""The processes of `jsonl-assets build`, and how they stop.

Every Dagster run of a build (each partition, then the manifest) runs in a forked worker
process; the CLI's own main thread only waits for them. Dagster replaces the SIGINT/SIGTERM
handlers of the thread that runs an execution (to turn them into a run failure, after which
the CLI would go on), so it must never run in the CLI's main thread.

- A signal ignored when the CLI started (`nohup`'s SIGHUP, SIGINT of `cmd &` in a script)
  stays ignored, by the CLI and its workers. An ignored SIGTERM is kept by a handler that does
  nothing, not by SIG_IGN, which every program they start would inherit: Dagster stops its
  compute-log `tail`s with SIGTERM, and a `tail` ignoring it outlives the build holding its
  stdout, so the caller never reads to the end.
- SIGINT, SIGTERM or SIGHUP to the CLI, or its stdout closed (SIGPIPE): every worker's
  process group (the worker and what Dagster started under it, such as its compute-log
  `tail`s) gets SIGKILL, the cleanups run (the package lock is released), the CLI prints
  `interrupted; rerun to resume` and exits 128 + the signal. A SIGKILL leaves nothing
  half-visible (see the restart guarantees), so the next build resumes from what was
  committed.
- Workers die with their parent: each asks the kernel for SIGKILL when its parent dies
  (Linux `prctl(PR_SET_PDEATHSIG)`, through ctypes) and, where that is not available or the
  parent died before the call, a thread notices the parent pid change within 0.5 s.
- Each worker has its own process group, so a Ctrl-C in the terminal reaches only the CLI,
  which stops the workers itself (they never print an interrupted run's errors).
- Workers are forked, unless polars' thread pool runs in this process and the work may call
  polars: its threads do not survive a fork, and the child's first polars call would wait for
  them forever. Those workers are spawned (a fresh interpreter).
- A forked process starts with no pool and no cleanup of this module (`_forget_parent`): the
  pools, workers and cleanups it would inherit are its parent's, not its own to wait on, kill
  or run (a partition worker whose chunk pool breaks waits on its own chunk workers only).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import pickle
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Final

from jsonl_assets.core import fault_points
from jsonl_assets.core.store.atomic_files import limit_hint

INTERRUPTED: Final = "interrupted; rerun to resume"
SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_HANDLED: Final = (*SIGNALS, signal.SIGPIPE)
PR_SET_PDEATHSIG: Final = 1
# The threads of polars' compute pool and of its async runtime (Linux thread names).
_POLARS_THREADS: Final = re.compile(r"(polars-\d+|tokio-rt-worker)")

_pools: list[ProcessPoolExecutor] = []
_cleanups: list[Callable[[], None]] = []
# Whether a SIGPIPE means stdout is lost (see `install`).
_stdout_lost: list[Callable[[], bool]] = [lambda: True]


def _forget_parent() -> None:
    """In a forked child: its parent's pools, workers and cleanups are not its own. Waiting on
    a process that is not its child fails (multiprocessing asserts), killing them would stop
    the parent's other workers, and the parent's cleanups (its package lock) are the
    parent's to run."""
    _pools.clear()
    _cleanups.clear()
    _stdout_lost[:] = [lambda: True]


os.register_at_fork(after_in_child=_forget_parent)


class BuildStopped(Exception):
    """An error that stops the build, said in one line (its message), without a traceback."""


class WorkerDied(BuildStopped):
    """A worker process ended without returning (killed from outside the build)."""


class UnpicklableError(BuildStopped):
    """An error a worker raised that pickle cannot carry back (a library's exception class
    whose `__init__` takes other arguments than its message): its class name and message."""


def install(stdout_lost: Callable[[], bool] = lambda: True) -> None:
    """Route SIGINT, SIGTERM and SIGHUP of this process to `interrupt`, and SIGPIPE: a closed
    stdout (`jsonl-assets build | head`) stops the build the same way, not with a traceback.
    A signal ignored when the process started stays ignored (`nohup` ignores SIGHUP, a shell
    SIGINT for `cmd &`), in the workers too. SIGPIPE is always handled: Python itself ignores
    it at start, whatever the parent set. A SIGPIPE while `stdout_lost()` is false came from
    another write (a closed stderr, which the CLI drops quietly): it does not stop the build."""
    _stdout_lost[0] = stdout_lost
    for sig in _HANDLED:
        if sig in SIGNALS and _keep_ignored(sig):
            continue
        signal.signal(sig, _interrupted)


def _ignore(_signum: int, _frame: Any) -> None:
    """SIGTERM's handler in a process that started with it ignored (see the module docstring)."""


def _keep_ignored(sig: int) -> bool:
    """Whether `sig` is ignored here; it then stays ignored (SIGTERM through `_ignore`)."""
    handler = signal.getsignal(sig)
    if handler is _ignore:
        return True
    if handler != signal.SIG_IGN:
        return False
    if sig == signal.SIGTERM:
        signal.signal(sig, _ignore)
    return True


def ignored_signals() -> list[int]:
    """The signals this process keeps ignored, for its workers (a spawned one starts afresh)."""
    return [sig for sig in SIGNALS if signal.getsignal(sig) in (signal.SIG_IGN, _ignore)]


def on_interrupt(cleanup: Callable[[], None]) -> None:
    """Run `cleanup` (after the workers are killed) if the build is interrupted. It runs in a
    signal handler, whatever the main thread was doing: plain os calls only, no locks."""
    _cleanups.append(cleanup)


def _interrupted(signum: int, _frame: Any) -> None:
    if signum == signal.SIGPIPE and not _stdout_lost[0]():
        return
    interrupt(signum)


def interrupt(signum: int) -> None:
    """Stop the build as for signal `signum`: kill the workers, run the cleanups, print one
    line and exit 128 + `signum`. Never returns."""
    for sig in _HANDLED:  # one stop, one line, whatever else arrives meanwhile
        signal.signal(sig, signal.SIG_IGN)
    stop_workers()
    for cleanup in reversed(_cleanups):
        with contextlib.suppress(BaseException):
            cleanup()
    with contextlib.suppress(BaseException):
        sys.stdout.flush()
    with contextlib.suppress(OSError):  # stderr gone too (`2>&1 | head`): the code says it
        os.write(2, f"{INTERRUPTED}\n".encode())
    # No interpreter shutdown: it would join the pool's threads and run Dagster's handlers.
    os._exit(128 + signum)


def stop_workers(reap: bool = True) -> None:
    """SIGKILL every worker's process group, then reap the workers; without `reap` their
    pools do (`shutdown_pools`: a pool whose processes were reaped under it waits forever
    for them to end)."""
    pids = [pid for pool in _pools for pid in getattr(pool, "_processes", None) or {}]
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)  # the worker leads its own group (see _init_worker)
        except OSError:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)  # killed before it made its group
    for pid in pids if reap else ():
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, 0)


def _init_worker(parent: int, kill_also: list[int], ignored: list[int]) -> None:
    for sig in SIGNALS:  # not the CLI's handler: a worker that is signalled just dies
        if sig not in ignored:
            signal.signal(sig, signal.SIG_DFL)
        else:  # ignored by the CLI: ignored here too
            signal.signal(sig, _ignore if sig == signal.SIGTERM else signal.SIG_IGN)
    # A write to a closed stdout raises BrokenPipeError, as in any Python process.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.setpgrp()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the kernel was asked to tell us
        os.killpg(0, signal.SIGKILL)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    fault_points.kill_also[:] = [*kill_also, parent]  # a spawned worker inherits no list


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os.killpg(0, signal.SIGKILL)  # this worker and what it started


def worker_pool(workers: int, *, polars: bool = True) -> ProcessPoolExecutor:
    """Workers stopped on an interrupt; the caller ends them with `release_pool` or
    `shutdown_pools`. Forked (they inherit the imported code) unless `polars` (the work may
    call polars) and polars' thread pool runs here: then spawned, with picklable work."""
    method = "spawn" if polars and polars_running() else "fork"
    with _starting():
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context(method),
            initializer=_init_worker,
            initargs=(os.getpid(), list(fault_points.kill_also), ignored_signals()),
        )
    _pools.append(pool)
    return pool


def polars_running() -> bool:
    """Whether polars' thread pool has started in this process (its threads are listed)."""
    try:
        tasks = list(Path("/proc/self/task").iterdir())
    except OSError:
        return False  # not Linux: no way to tell; fork as before
    for task in tasks:
        try:
            name = (task / "comm").read_text().strip()
        except OSError:
            continue  # the thread ended meanwhile
        if _POLARS_THREADS.fullmatch(name):
            return True
    return False


def release_pool(pool: ProcessPoolExecutor) -> None:
    """Shut one pool down and forget it."""
    _unblock_broken(pool)
    pool.shutdown(wait=True, cancel_futures=True)
    with contextlib.suppress(ValueError):
        _pools.remove(pool)


def shutdown_pools() -> None:
    while _pools:
        _unblock_broken(_pools[-1])
        _pools[-1].shutdown(wait=True, cancel_futures=True)
        _pools.pop()


def _unblock_broken(pool: ProcessPoolExecutor) -> None:
    """If a worker of `pool` died: its other workers killed and the pool's own end of the
    result pipe closed, so that the pool's thread, which may wait for the rest of a message the
    dead worker never finished, reads the end of the pipe and stops (a shutdown, or the
    interpreter's exit, joins that thread: it would wait forever)."""
    if _dead_worker(pools=[pool]) is None:
        return
    for pid in list(getattr(pool, "_processes", None) or {}):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        pool._result_queue._writer.close()  # type: ignore[attr-defined]


def call_in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run `fn(*args)` in a worker, off its main thread: Dagster then leaves the worker's
    signals alone, so a worker signalled from outside dies at once (and the CLI says so)
    instead of turning the signal into a failed run with a traceback."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = fn(*args)
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=target, name="dagster-run")
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


@contextlib.contextmanager
def _worker_deaths() -> Iterator[None]:
    """A pool broken by a worker that died is a WorkerDied saying how it ended, wherever the
    pool says so: at a submit (a worker died since the last one) or at a result."""
    try:
        yield
    except BrokenProcessPool:
        raise WorkerDied(died_message(_dead_worker(wait=1.0))) from None


# How long a result waits, once a worker is seen dead, for its pool to say it is broken: a
# worker dying while it wrote to the pool's shared result pipe can leave the pool waiting
# for the rest of that message forever.
DEAD_POOL_GRACE: Final = 5.0
# How long an ended worker's exit status may take to be stored by the thread reaping it.
EXIT_STATUS_SETTLE: Final = 1.0

_SIGNAL_CAUSES: Final = {
    signal.SIGKILL: "killed from outside, or by the kernel's out-of-memory killer: see dmesg",
    signal.SIGABRT: "a native library aborted: out of memory?",
    signal.SIGSEGV: "a native library crashed",
    signal.SIGBUS: "a native library crashed",
    signal.SIGTERM: "killed from outside?",
    signal.SIGINT: "killed from outside?",
    signal.SIGHUP: "killed from outside?",
}


def died_message(exitcode: int | None) -> str:
    """The line a worker's death stops the build with: its exit status as seen (a signal
    by name, with its likely cause), None when it cannot be known."""
    if exitcode is None:
        how = "died (killed from outside?)"
    elif exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        cause = _SIGNAL_CAUSES.get(-exitcode)
        how = f"died with {name}" + (f" ({cause})" if cause else "")
    else:
        how = f"exited with status {exitcode}"
    return f"a worker process of the build {how}; rerun to resume"


def _dead_worker(wait: float = 0.0, pools: list[ProcessPoolExecutor] | None = None) -> int | None:
    """The exit status of a worker of the build's pools that ended with a failure (a negative
    signal number or a nonzero status), else None. A pool's workers only end on its shutdown,
    with 0; when one dies the pool terminates the others (SIGTERM), so a status other than
    SIGTERM's is the first death. With `wait`, the workers get that long to be reaped;
    `pools`: only theirs."""
    deadline = time.monotonic() + wait
    codes: list[int] = []
    for pool in list(_pools if pools is None else pools):
        with contextlib.suppress(RuntimeError):  # the pool's thread changed the dict meanwhile
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                if getattr(proc, "_parent_pid", None) != os.getpid():
                    continue  # not this process's child: not its to wait on
                if wait:
                    proc.join(max(0.0, deadline - time.monotonic()))
                code = _exitcode(proc)
                if code:
                    codes.append(code)
    first = [c for c in codes if c != -signal.SIGTERM]
    return (first or codes or [None])[0]


def _exitcode(proc: multiprocessing.process.BaseProcess) -> int | None:
    """`proc.exitcode`, once it has ended. The pool's thread may be reaping it at the same
    moment: our `waitpid` then fails (ECHILD) and reads None until that thread stores the
    status, a moment later; so an ended process's status is waited for, briefly."""
    code = proc.exitcode
    settle = time.monotonic() + EXIT_STATUS_SETTLE
    while code is None and _ended(proc) and time.monotonic() < settle:
        time.sleep(0.002)
        code = proc.exitcode
    return code


def _ended(proc: multiprocessing.process.BaseProcess) -> bool:
    """Whether `proc` has ended (its sentinel is ready), reaped or not."""
    try:
        return bool(multiprocessing.connection.wait([proc.sentinel], timeout=0))
    except (OSError, ValueError):  # its sentinel closed: the pool is done with it
        return False


@contextlib.contextmanager
def _starting() -> Iterator[None]:
    """A pool or a worker that cannot be started (its pipes and semaphores are files: EMFILE)
    says so, and which limit it ran into."""
    try:
        yield
    except OSError as exc:
        raise OSError(
            exc.errno, f"cannot start a worker process: {exc.strerror or exc}{limit_hint(exc)}"
        ) from exc


def submit(pool: ProcessPoolExecutor, fn: Callable[..., Any], *args: Any) -> Future[Any]:
    """`pool.submit(fn, *args)`; a worker killed from outside is a WorkerDied. An error `fn`
    raises comes back as itself (the package's are `Picklable`), or, should pickle not carry
    it, as an `UnpicklableError` saying it: never as a broken pool (a WorkerDied)."""
    with _worker_deaths(), _starting():
        return pool.submit(_carried, fn, *args)


def _carried(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:
            raise UnpicklableError(f"{type(exc).__name__}: {exc}") from None
        raise


def result(future: Future[Any]) -> Any:
    """The future's result; a worker killed from outside is a WorkerDied, not a traceback."""
    with _worker_deaths():
        # In slices: a signal may be delivered to another thread, and a wait without a timeout
        # would not return to let the main thread run the handler.
        seen_dead: float | None = None
        while True:
            with contextlib.suppress(TimeoutError):
                return future.result(timeout=0.2)
            if (code := _dead_worker()) is not None:  # the pool may never say so: no hang
                seen_dead = seen_dead or time.monotonic()
                if time.monotonic() - seen_dead > DEAD_POOL_GRACE:
                    raise WorkerDied(died_message(code))
