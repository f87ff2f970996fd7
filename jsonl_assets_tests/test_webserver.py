"""End to end: the real dagster-webserver on a loopback port, against a temporary DAGSTER_HOME
(with the project's dagster.yaml) and the project's workspace.yaml, after a real
`jsonl-assets build` of one partition. Everything is read back through /graphql, as the UI
reads it. Deselect with `-m "not webserver"`; CI runs it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from jsonl_assets.core.config import CONFIG_ENV_VAR, load_config
from jsonl_assets.core.source_fingerprints import take_snapshot
from jsonl_assets.defs.observations import record_observations
from jsonl_assets.defs.partitions import all_partition_keys

pytestmark = pytest.mark.webserver

REPO = Path(__file__).resolve().parents[1]
WEBSERVER = [sys.executable, "-m", "dagster_webserver"]
CLI = [sys.executable, "-m", "jsonl_assets.cli"]
STARTUP_SECONDS = 60.0
STOP_SECONDS = 10.0
PARTITION = "rft|test"  # the smallest sample partition (one source, 50 records)
STAGES = ["extracted", "transformed", "validated", "shards", "manifest"]
EDGES = {
    "extracted": ["raw_sources"],
    "transformed": ["extracted"],
    "validated": ["transformed"],
    "shards": ["validated"],
    "manifest": ["shards"],
}
CHECKS = {
    "extracted": ["parse_failure_rate"],
    "transformed": ["adapter_reject_rate"],
    "validated": ["duplicate_id_rate", "invalid_rate"],
    "shards": ["shards_verified", "empty_partition"],
    "manifest": ["package_valid"],
}
WARNING_CHECKS = {"empty_partition"}  # the one check that does not block


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the webserver's process group (it and its code server), then SIGKILL."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_SECONDS)


class Server:
    def __init__(self, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}/graphql"
        self.proc = proc
        self.log = log

    def query(self, text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": text, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as exc:  # the server's error is in the body
            body = json.loads(exc.read())
            raise AssertionError(f"{exc}: {body.get('errors')}") from exc
        assert "errors" not in payload, payload["errors"]
        return payload["data"]

    def wait_until_loaded(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        last: Any = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                data = self.query(
                    "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus"
                    " locationOrLoadError { __typename ... on PythonError { message } } } } } }"
                )
                last = data["workspaceOrError"]["locationEntries"]
                if last and last[0]["loadStatus"] == "LOADED":
                    assert last[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation", (
                        last
                    )
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                last = exc
            time.sleep(0.3)
        raise AssertionError(f"webserver not ready after {STARTUP_SECONDS} s: {last}")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "dagster_home"
    path.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", path / "dagster.yaml")
    return path


@pytest.fixture
def env(home: Path, sample_project: Path) -> dict[str, str]:
    return {**os.environ, "DAGSTER_HOME": str(home), CONFIG_ENV_VAR: str(sample_project)}


@pytest.fixture
def server(tmp_path: Path, env: dict[str, str]) -> Iterator[Server]:
    port = free_port()
    log = tmp_path / "webserver.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*WEBSERVER, "-h", "127.0.0.1", "-p", str(port), "-w", str(REPO / "workspace.yaml")],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Server(port, proc, log)
    finally:
        started = time.monotonic()
        stop(proc)
        assert proc.returncode is not None
        assert time.monotonic() - started < 2 * STOP_SECONDS + 1


def stale_statuses(server: Server, partition: str) -> dict[str, str]:
    fields = " ".join(
        f'{name}: assetNodeOrError(assetKey: {{path: ["{name}"]}}) {{ ... on AssetNode'
        f' {{ staleStatus(partition: "{partition}") }} }}'
        for name in STAGES[:-1]
    )
    data = server.query(f"{{ {fields} }}")
    return {name: data[name]["staleStatus"] for name in STAGES[:-1]}


def observe_sources(home: Path, config: Path, keys: list[str] | None = None) -> None:
    """What the raw_sources_changed sensor records (its daemon is not running here)."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        record_observations(instance, take_snapshot(load_config(config)), keys)


ASSET_NODES = """
{ assetNodes {
    assetKey { path } groupName description isObservable isMaterializable
    dependencyKeys { path } partitionKeys kinds
    owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
    tags { key value }
    partitionStats { numMaterialized numPartitions }
    assetChecksOrError { ... on AssetChecks { checks { name blocking description
      partitionDefinition { name }
      partitionStatuses { __typename ... on AssetCheckMultiPartitionStatuses { ranges {
        primaryDimStartKey primaryDimEndKey secondaryDim {
          ... on AssetCheckDefaultPartitionStatuses { succeededPartitions failedPartitions } } } } }
      executionForLatestMaterialization { status partition
        evaluation { success description metadataEntries { label } } } } } }
} }
"""

JOB_RUNS = """
{ pipelineOrError(params: {pipelineName: "build_partition", repositoryName: "__repository__",
    repositoryLocationName: "jsonl_assets"}) {
    ... on Pipeline { runs { runId status tags { key value } } } } }
"""

LATEST_SHARDS = """
query ($partition: String!) {
  assetOrError(assetKey: {path: ["shards"]}) { ... on Asset {
    assetMaterializations(partitions: [$partition], limit: 1) {
      partition metadataEntries { label ... on MarkdownMetadataEntry { mdStr }
        ... on IntMetadataEntry { intValue } } } } }
}
"""

INSTIGATORS = """
{ schedulesOrError(repositorySelector:
    {repositoryName: "__repository__", repositoryLocationName: "jsonl_assets"}) {
    ... on Schedules { results { name cronSchedule scheduleState { status } } } }
  sensorsOrError(repositorySelector:
    {repositoryName: "__repository__", repositoryLocationName: "jsonl_assets"}) {
    ... on Sensors { results { name sensorState { status } } } }
  runsOrError { ... on Runs { results { jobName status tags { key value } } } } }
"""


def test_webserver_shows_lineage_partitions_checks_and_staleness(
    server: Server, home: Path, env: dict[str, str], sample_project: Path, tmp_path: Path
) -> None:
    # While the webserver starts: observe the sources, then build one partition with the CLI.
    observe_sources(home, sample_project)
    build = subprocess.run(
        [*CLI, "build", "--partition", PARTITION, "--workers", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    server.wait_until_loaded()

    nodes = {"/".join(n["assetKey"]["path"]): n for n in server.query(ASSET_NODES)["assetNodes"]}
    assert set(nodes) == {"raw_sources", *STAGES}
    assert nodes["raw_sources"]["isObservable"] and not nodes["raw_sources"]["isMaterializable"]
    for name, node in nodes.items():
        assert node["groupName"] == "llm_training_data"
        assert node["description"] and len(node["description"]) > 40, name
        deps = sorted("/".join(k["path"]) for k in node["dependencyKeys"])
        assert deps == EDGES.get(name, []), name
    for name in ["raw_sources", *STAGES[:-1]]:
        assert nodes[name]["partitionKeys"] == all_partition_keys(), name
    for name in STAGES[:-1]:
        assert nodes[name]["partitionStats"] == {"numMaterialized": 1, "numPartitions": 12}
    assert nodes["manifest"]["partitionKeys"] == []
    assert stale_statuses(server, PARTITION) == dict.fromkeys(STAGES[:-1], "FRESH")

    for name, node in nodes.items():
        # Owners, tags and kinds on every asset, raw_sources included.
        assert node["owners"] == [{"team": "llm-data"}], name
        assert {"key": "team", "value": "llm-data"} in node["tags"], name
        assert node["kinds"], name

    objective, split = PARTITION.split("|")
    for name, expected in CHECKS.items():
        checks = nodes[name]["assetChecksOrError"]["checks"]
        assert sorted(c["name"] for c in checks) == sorted(expected), name
        for check in checks:
            assert check["blocking"] == (check["name"] not in WARNING_CHECKS), check["name"]
            assert check["description"]
            latest = check["executionForLatestMaterialization"]
            assert latest["status"] == "SUCCEEDED", (name, check["name"])
            if name == "manifest":
                assert check["partitionStatuses"] is None and latest["partition"] is None
                continue
            # A partitioned check: its result carries the partition key, and the check's
            # status per partition says which partition passed (the only one built here).
            assert latest["partition"] == PARTITION, check["name"]
            statuses = check["partitionStatuses"]
            assert statuses["__typename"] == "AssetCheckMultiPartitionStatuses"
            passed = {
                (r["primaryDimStartKey"], p)
                for r in statuses["ranges"]
                for p in r["secondaryDim"]["succeededPartitions"]
            }
            assert passed == {(objective, split)}, (check["name"], statuses)
            assert latest["evaluation"]["success"] and latest["evaluation"]["description"]
            labels = {e["label"] for e in latest["evaluation"]["metadataEntries"]}
            if check["name"].endswith("_rate"):
                assert {"failed", "total", "rate (%)", "threshold (%)", "example_traces"} <= labels

    shards = server.query(LATEST_SHARDS, {"partition": PARTITION})["assetOrError"]
    (mat,) = shards["assetMaterializations"]
    assert mat["partition"] == PARTITION
    meta = {e["label"]: e.get("mdStr", e.get("intValue")) for e in mat["metadataEntries"]}
    assert {"throughput (records/s)", "bytes_out (B)", "accounting"} <= set(meta)
    assert meta["dagster/row_count"] == meta["records_out"] == 50
    assert meta["shards"] and meta["shards"].startswith("| path | records | bytes | sha256 |")
    assert "rft-test-00000.jsonl.zst" in meta["shards"]

    instigators = server.query(INSTIGATORS)
    schedules = instigators["schedulesOrError"]["results"]
    assert [(s["name"], s["scheduleState"]["status"]) for s in schedules] == [
        ("package_rebuild", "RUNNING")
    ]
    sensors = {
        s["name"]: s["sensorState"]["status"] for s in instigators["sensorsOrError"]["results"]
    }
    assert sensors == {
        "raw_sources_changed": "RUNNING",
        "publish_after_batch": "RUNNING",
        "dead_runs": "RUNNING",
    }
    runs = instigators["runsOrError"]["results"]
    assert sorted((r["jobName"], r["status"]) for r in runs) == [
        ("build_partition", "SUCCESS"),
        ("publish_manifest", "SUCCESS"),
    ]
    # The CLI's run carries the code location's origin, so the job page lists it (the page
    # asks for the job's runs of this repository, `.dagster/repository`).
    (job_run,) = server.query(JOB_RUNS)["pipelineOrError"]["runs"]
    tags = {t["key"]: t["value"] for t in job_run["tags"]}
    assert job_run["status"] == "SUCCESS"
    assert tags["jsonl-assets/cli"] == "build" and tags["dagster/partition"] == PARTITION
    assert (tags["objective"], tags["split"]) == (objective, split)

    # A changed source: once observed, the UI shows that partition stale, and no other.
    with open(sample_project.parent / "raw" / "rft" / "seedlings_test.jsonl", "ab") as handle:
        handle.write(b"\n")
    observe_sources(home, sample_project, [PARTITION, "rft|train"])
    stale = server.query(
        '{ assetNodeOrError(assetKey: {path: ["extracted"]}) { ... on AssetNode {'
        ' test: staleStatus(partition: "rft|test") train: staleStatus(partition: "rft|train")'
        ' causes: staleCauses(partition: "rft|test") { key { path } partitionKey reason } } } }'
    )["assetNodeOrError"]
    assert stale["test"] == "STALE"
    assert stale["train"] == "MISSING"
    assert stale["causes"] == [
        {
            "key": {"path": ["raw_sources"]},
            "partitionKey": PARTITION,
            "reason": "has a new data version",
        }
    ]
