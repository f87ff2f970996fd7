"""Where the time of a UI-launched run goes: queue, launch (a subprocess that imports Dagster
and the code location), execution and the steps, read from the run's event log.

    .venv/bin/python bench/ui_run_cost.py [--runs 3]

Copies the sample into a temporary folder, builds it once with the CLI, starts `dagster dev`
(webserver and daemon) on 127.0.0.1, then launches `build_partition` for `sft|train` through
GraphQL as the UI's Materialize button does (queued, dequeued by the daemon, launched in a
subprocess), waits for each run and prints the medians of each phase. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
from screenshot_lineage import free_port, prepare, stop, wait_until_loaded

REPO = Path(__file__).resolve().parents[1]
PHASES = (
    ("queued and launched (enqueued -> starting)", "RUN_ENQUEUED", "RUN_STARTING"),
    ("run process start-up (starting -> run start)", "RUN_STARTING", "RUN_START"),
    ("execution (run start -> success)", "RUN_START", "RUN_SUCCESS"),
    ("total (enqueued -> success)", "RUN_ENQUEUED", "RUN_SUCCESS"),
)
LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""


def launch(port: int, config: Path) -> str:
    params = {
        "selector": {
            "repositoryLocationName": "jsonl_assets",
            "repositoryName": "__repository__",
            "jobName": "build_partition",
        },
        "runConfigData": {
            "resources": {"pipeline": {"config": {"config_path": str(config), "force": True}}}
        },
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "sft|train"}]},
    }
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": LAUNCH, "variables": {"params": params}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        out = json.loads(response.read())["data"]["launchRun"]
    if out["__typename"] != "LaunchRunSuccess":
        raise SystemExit(f"launch failed: {out}")
    return out["run"]["runId"]


def phases(home: Path, run_id: str) -> dict[str, float] | None:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(run_id)
        if run is None or not run.is_finished:
            return None
        first: dict[str, float] = {}
        steps: dict[str, list[float]] = {}
        for log in instance.all_logs(run_id):
            event = log.dagster_event
            if event is None:
                continue
            name = event.event_type.name  # the enum's name (its value says PIPELINE_...)
            first.setdefault(name, log.timestamp)
            if name in ("STEP_START", "STEP_SUCCESS") and log.step_key:
                steps.setdefault(log.step_key, []).append(log.timestamp)
    out = {name: first[b] - first[a] for name, a, b in PHASES if a in first and b in first}
    out.update({f"  step {k}": v[-1] - v[0] for k, v in steps.items() if len(v) == 2})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jsonl-assets-uirun-") as tmp:
        work = Path(tmp)
        home, config, env = prepare(work)
        port = free_port()
        server = subprocess.Popen(
            [
                *(str(REPO / ".venv" / "bin" / "dagster"), "dev"),
                *("-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)),
            ],
            env=env,
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_until_loaded(port, server)
            results = []
            for _ in range(args.runs):
                run_id = launch(port, config)
                deadline = time.monotonic() + 300
                while (measured := phases(home, run_id)) is None:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"run {run_id} did not finish in 300 s")
                    time.sleep(1)
                results.append(measured)
        finally:
            stop(server)
    print(f"build_partition sft|train launched through the webserver, {args.runs} runs (medians):")
    for name in results[0]:
        values = [r[name] for r in results if name in r]
        print(f"{name:48s} {statistics.median(values):6.2f} s")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
