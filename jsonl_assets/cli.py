"""`jsonl-assets build`, `jsonl-assets verify` and `jsonl-assets report`.

`build` runs the same Dagster jobs the UI runs, against the project's Dagster instance, so its
runs appear in `dagster dev`: one run per partition (several at once with --workers), then the
manifest run. `verify` checks any LLM Training Data v1 package, ours or not.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from jsonl_assets import start_signals, stdout_guard  # start_signals first: see its doc
from jsonl_assets.cli_parser import EXIT_BUSY, command_parser
from jsonl_assets.cli_tables import print_table, print_warned
from jsonl_assets.console_text import escape_what_the_console_cannot_show, printable
from jsonl_assets.core import build_summary, build_workers
from jsonl_assets.core.chunks import progress, runners
from jsonl_assets.core.config import (
    CONFIG_ENV_VAR,
    ConfigError,
    PipelineConfig,
    check_buckets,
    load_config,
)
from jsonl_assets.core.file_names import shown
from jsonl_assets.core.gc_pause import gc_paused
from jsonl_assets.core.store.package_lock import (
    BUILD,
    TOKEN_ENV,
    Holder,
    PackageBusyError,
    PackageLock,
)
from jsonl_assets.core.store.url import listed_once
from jsonl_assets.core.store.work_owner import claim_work_dir
from jsonl_assets.stdout_guard import StdoutLost

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_INTERRUPTED = 128 + signal.SIGINT  # Ctrl-C, as a shell reports it


def _lock_package(package: Path, wait: float | None) -> PackageLock:
    """Hold the package dir for the whole build: fail at once, or wait (--wait)."""
    lock = PackageLock(package, BUILD)

    def waiting(holder: Holder | None) -> None:
        who = holder.describe() if holder else "another build"
        print(printable(f"waiting for {lock.path}, held by {who}"), file=sys.stderr, flush=True)

    stale = lock.acquire(0.0 if wait is None else wait, on_wait=waiting)
    build_workers.on_interrupt(lock.abandon)
    # The runs of this build (in its worker processes) find the token and know the lock is theirs.
    os.environ[TOKEN_ENV] = lock.token
    if stale is not None:
        print(printable(f"took over {lock.path} from a process that died ({stale.describe()})"))
    return lock


def _config_or_none(
    path: str | os.PathLike[str] | None, claim: bool = False
) -> PipelineConfig | None:
    """The loaded config, or None after printing why it is refused (file, key, reason): its
    output buckets are checked too, before any source is read; with `claim` (a build), its
    work dir must serve its package (work_owner.py), before anything is written."""
    try:
        cfg = load_config(path)
        check_buckets(cfg)
        if claim:  # checked only: a build refused for a busy package writes nothing
            try:
                claim_work_dir(cfg.path, cfg.output.work_dir, cfg.output.dir, record=False)
            except OSError as exc:  # only the work dir's claim: nothing else is labelled so
                raise ConfigError(cfg.path, "output.work_dir", str(exc)) from None
        return cfg
    except ConfigError as exc:
        print(printable(f"config error: {exc}"), file=sys.stderr)
    return None


def cmd_build(args: argparse.Namespace) -> int:
    # A build is one observation of its sources: each glob on object storage lists its
    # bucket once, and the config loads of the build's runs and steps reuse that listing.
    with listed_once():
        return _locked_build(args)


def _locked_build(args: argparse.Namespace) -> int:
    # Interrupts are ours from the start: Dagster never runs in this thread (build_workers).
    build_workers.install(stdout_guard.stdout_lost)
    # Set-up (Dagster's import, the definitions, the instance) allocates ~200k objects that
    # live as long as the process. The collector is paused meanwhile - its scans would walk
    # them again and again, 0.3 s in all - and then they are frozen: later collections skip
    # them (and forked workers share their pages).
    with gc_paused():
        cfg = _config_or_none(args.config, claim=True)
        if cfg is None:
            return EXIT_CONFIG
        try:
            lock = _lock_package(cfg.output.dir, args.wait)
        except PackageBusyError as exc:
            hint = "; rerun with --wait to wait for it" if args.wait is None else ""
            print(printable(f"{exc}{hint}"), file=sys.stderr)
            return EXIT_BUSY
        except OSError as exc:
            print(
                printable(f"cannot lock the package dir {cfg.output.dir}: {exc}"), file=sys.stderr
            )
            return EXIT_FAILED
    try:
        try:
            claim_work_dir(cfg.path, cfg.output.work_dir, cfg.output.dir)
        except (ConfigError, OSError) as exc:  # claimed by another package meanwhile
            print(printable(f"config error: {exc}"), file=sys.stderr)
            return EXIT_CONFIG
        return _build(args, cfg)
    except StdoutLost as lost:  # `| head`, `> /dev/full`: stopped as by SIGPIPE, never returns
        stdout_guard.say(lost)
        build_workers.interrupt(signal.SIGPIPE)
        raise
    except build_workers.BuildStopped as exc:  # a worker killed, Dagster's storage failed
        build_workers.stop_workers(reap=False)  # shutdown_pools reaps them
        print(printable(exc), file=sys.stderr)
        return EXIT_FAILED
    except ConfigError as exc:  # the config, loaded again by a run, became invalid meanwhile
        build_workers.stop_workers(reap=False)
        print(printable(f"config error: {exc}"), file=sys.stderr)
        return EXIT_CONFIG
    finally:
        build_workers.shutdown_pools()
        lock.release()


def _build(args: argparse.Namespace, cfg: PipelineConfig) -> int:
    with gc_paused():
        # Dagster is imported here, not for `verify`.
        from jsonl_assets.core.build import dirs_for
        from jsonl_assets.core.partition_state import BUILD, UP_TO_DATE, partition_state
        from jsonl_assets.core.report.package_report import report_files, warm_up_report
        from jsonl_assets.defs import runs

        config_path = str(cfg.path)
        os.environ[CONFIG_ENV_VAR] = config_path
        valid = runs.all_partition_keys()
        keys = list(dict.fromkeys(args.partition or valid))  # a repeated one runs once
        for key in keys:
            if key not in valid:
                print(
                    printable(f"unknown partition {key!r}; partitions look like sft|train"),
                    file=sys.stderr,
                )
                return EXIT_CONFIG
        # A partition that no source feeds and that never produced anything, or whose every
        # stage is up to date (and its checks pass on the current thresholds), costs no run.
        states = {} if args.force else {k: partition_state(cfg, dirs_for(cfg, k)) for k in keys}
        skipped = {k: states[k] for k in keys if states.get(k, BUILD) != BUILD}
        keys = [k for k in keys if k not in skipped]
        workers = max(1, min(args.workers, len(keys) or 1))
        # A partition compresses on a second thread only if a core is left for it.
        helper_thread = workers < (os.cpu_count() or 1)
        print(
            printable(
                f"building {len(keys)} partition(s) of {cfg.dataset.name} with "
                f"{args.workers} worker(s) (up to {workers} partition(s) at once); "
                f"config {config_path}"
            )
        )
        for key, state in skipped.items():
            print(f"  {key:<22} {state}: no run")
        started = time.perf_counter()
        runs.prepare()  # the instance and the jobs, loaded once before the freeze and the forks
        # A run left STARTED by a killed build (or dagster dev) would hold its partition's
        # slot in Dagster's queue for good.
        for line in runs.free_dead_runs():
            print(printable(f"  dead run marked: {line}"))
        gc.freeze()
    results: list[dict[str, Any]] = []
    # Every run goes to a forked worker (one at a time with --workers 1); the publication to
    # one forked after them (cmd_build shuts the pools down).
    # --workers N: N processes in all, across partitions and their chunks.
    runners.share_slots(args.workers)
    progress.listen(functools.partial(_chunk_progress, os.getpid()))
    pool = build_workers.worker_pool(workers)
    futures = [
        build_workers.submit(
            pool,
            build_workers.call_in_thread,
            runs.build_partition,
            key,
            config_path,
            args.force,
            None,
            helper_thread,
            args.verbose,
            args.workers,
            args.replace_other_dataset,
        )
        for key in keys
    ]
    # Meanwhile this process, idle until the runs end, imports the report's chart code
    # (matplotlib, ~0.5 s) for the publication's worker, forked after the runs.
    warm = threading.Thread(target=warm_up_report, name="warm-up", daemon=True)
    if keys:
        warm.start()
    # Up-to-date partitions are summarised from what their stages persisted (no run).
    results.extend(
        runs.up_to_date_summary(k, config_path)
        for k, state in skipped.items()
        if state == UP_TO_DATE
    )
    for future in futures:
        results.append(build_workers.result(future))
        _progress(results[-1])
    results.sort(key=lambda r: valid.index(r["key"]))
    if results:
        print()
        print_table(results)
    print_warned(results)
    build_summary.print_sources(results, sys.stdout)
    failed = [r for r in results if not r["success"]]
    if failed:
        print(file=sys.stderr)
        build_summary.print_failures(failed, sys.stderr)
        print(
            "blocking check failed or stage error: metadata.json was not updated", file=sys.stderr
        )
        return EXIT_FAILED
    if keys:
        warm.join()  # never fork while a thread imports
    build_workers.release_pool(pool)
    reported_before = report_files(cfg)  # the report beside the package, before publishing
    gc.freeze()
    publisher = build_workers.worker_pool(1)
    outcome = build_workers.result(
        build_workers.submit(
            publisher,
            build_workers.call_in_thread,
            runs.publish,
            config_path,
            None,
            args.verbose,
            args.workers,
            args.replace_other_dataset,
        )
    )
    if not outcome["success"]:
        for line in outcome["failed_checks"] or outcome["errors"]:
            print(printable(f"manifest: {line}"), file=sys.stderr)
        print("metadata.json was not published", file=sys.stderr)
        return EXIT_FAILED
    meta = outcome["meta"]
    print(
        f"\npublished {printable(shown(str(meta.get('metadata_json'))))}: {meta.get('records')} records in "
        f"{meta.get('shards')} shards, {meta.get('partitions')} partitions "
        f"({time.perf_counter() - started:.1f} s)"
    )
    from jsonl_assets.core.report.measure_columns import report_enabled
    from jsonl_assets.core.report.package_report import no_report_note
    from jsonl_assets.defs.stage_metadata import REPORT_NOT_WRITTEN

    if meta.get(REPORT_NOT_WRITTEN):  # the package stands; only its report is missing
        print(printable(f"report: not written: {meta[REPORT_NOT_WRITTEN]}"), file=sys.stderr)
        return EXIT_FAILED
    if not report_enabled():
        print(printable(no_report_note(cfg, reported_before)))
    return EXIT_OK


def _chunk_progress(cli: int, line: str, _: dict[str, Any]) -> None:
    """Print a partition's progress (in its worker); a closed stdout stops the build: the
    CLI's SIGPIPE handler does that, as when the CLI itself writes to it."""
    try:
        print(printable(f"  {line}"), flush=True)
    except (StdoutLost, OSError) as lost:
        stdout_guard.mark_lost()  # shared with the CLI: its SIGPIPE is then about stdout
        stdout_guard.say(lost)
        os.kill(cli, signal.SIGPIPE)


def _progress(r: dict[str, Any]) -> None:
    mark = "ok" if r["success"] else "FAILED"
    print(f"  {r['key']:<22} {mark:<6} {r['seconds']:6.1f} s", flush=True)


def cmd_verify(args: argparse.Namespace) -> int:
    from jsonl_assets.core.store.url import location
    from jsonl_assets.core.verify.package import verify_package
    from jsonl_assets.core.verify.verify_limits import VerifyLimits

    # A package's paths and messages may hold control characters or lone surrogates: they
    # are printed escaped, never as raw bytes (a path must not forge an output line).
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    if not args.package_dir:  # `verify "$DIR"` with DIR unset: not the current folder
        print("verify: package_dir: empty path; name the package dir", file=sys.stderr)
        return EXIT_CONFIG
    package = location(args.package_dir)
    limits = VerifyLimits(
        max_metadata_bytes=args.max_metadata_bytes,
        max_line_bytes=args.max_line_bytes,
        max_expansion=args.max_expansion,
        expansion_floor=args.expansion_floor,
        max_shard_bytes=args.max_shard_bytes,
        max_shard_errors=args.max_shard_errors,
    )
    try:
        report = verify_package(
            package, forbid_split_leakage=args.forbid_split_leakage, limits=limits
        )
    except Exception as exc:  # a bug, not a verdict: one line, no traceback
        print(printable(f"{package}: verify failed: {type(exc).__name__}: {exc}"))
        return EXIT_FAILED
    for f in report.findings:
        if f.severity == "warning" and not args.warnings:
            continue
        where = f"{f.file}:{f.line}" if f.line else f.file
        print(printable(f"{f.severity.upper():7} {f.rule:4} {where}: {f.message}"))
    omitted = sum(report.omitted.values())
    if omitted:
        print(f"({omitted} more findings counted but not listed)")
    status = "valid" if report.ok else "INVALID"
    print(
        f"{printable(str(package))}: {status} — {report.shards_checked} shards, "
        f"{report.records_checked} records, "
        f"{report.error_count} errors, {report.warning_count} warnings"
    )
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_report(args: argparse.Namespace) -> int:
    """Write report.html and DATACARD.md again for the config's published package."""
    from jsonl_assets.core.build import built_partitions
    from jsonl_assets.core.report import write_report
    from jsonl_assets.core.report.package_gate import PackageNotValid, check_reportable
    from jsonl_assets.core.report.package_report import ReportDirNotOurs, ReportNotWritten
    from jsonl_assets.core.report.statistics import measured_cells
    from jsonl_assets.core.store.base import store_for
    from jsonl_assets.core.store.package_files import OtherDatasetError
    from jsonl_assets.core.store.package_lock import REPORT, package_lock

    cfg = _config_or_none(args.config)
    if cfg is None:
        return EXIT_CONFIG
    metadata = cfg.output.dir / "metadata.json"
    try:
        if store_for(metadata).stat(metadata) is None:
            print(
                printable(f"no package to report on: {metadata} does not exist (build it first)"),
                file=sys.stderr,
            )
            return EXIT_FAILED
        with package_lock(cfg.output.dir, args.wait, REPORT):
            # The statistics the build measured, of partitions whose shards are the
            # published ones; the others' shards are measured.
            partitions = built_partitions(cfg)[0]
            check_reportable(cfg, partitions)  # a package from elsewhere is verified first
            result = write_report(cfg, os.cpu_count() or 1, measured_cells(partitions))
    except (
        OSError,
        PackageBusyError,
        OtherDatasetError,
        PackageNotValid,
        ReportDirNotOurs,
        ReportNotWritten,
    ) as e:
        print(printable(f"cannot write the report of {cfg.output.dir}: {e}"), file=sys.stderr)
        return EXIT_FAILED
    print(printable(f"wrote {result.html} and {result.datacard}"))
    return EXIT_OK


COMMANDS: Final = {"build": cmd_build, "verify": cmd_verify, "report": cmd_report}


def main(argv: Sequence[str] | None = None) -> int:
    escape_what_the_console_cannot_show()
    args = command_parser(__doc__.split("\n")[0]).parse_args(argv)
    if args.command != "build":  # build installs its own handlers first thing
        start_signals.restore()
    stdout_guard.guard()
    try:
        code = int(COMMANDS[args.command](args))
        stdout_guard.flush()  # here, not at exit: a failure is then handled as any other
    except StdoutLost as lost:  # `jsonl-assets verify ... | head`, `> /dev/full`
        stdout_guard.say(lost)
        stdout_guard.discard()  # for the exit's flush
        return stdout_guard.EXIT_STDOUT_LOST
    except KeyboardInterrupt:  # Ctrl-C in verify or report (build stops on its own handler)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second one adds no traceback
        print("interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    # Dagster leaves ~200k objects that the interpreter's last collections would walk at
    # exit (0.4 s); frozen, they are not walked. Everything is committed by now.
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(main())
