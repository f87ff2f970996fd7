"""The chunk job's executor selector (defs/executors.py): the `k8s` choice is dagster-k8s's
own `k8s_job_executor`, built from the README's example config as written, and a run on it
really sends its plan step's Job to the Kubernetes API of its kubeconfig: a loopback server
here that records the Job and refuses it (403). No cluster runs here, so no pod starts."""

from __future__ import annotations

import http.server
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import orjson
import pytest
import yaml
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.executor.step_delegating import StepDelegatingExecutor

from jsonl_assets.defs.chunk_job import build_chunks
from jsonl_assets.defs.executors import K8S, chunks_executor

from ..test_chunks import sample_with_chunks

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_k8s_config() -> dict[str, Any]:
    """The `execution.config.k8s` block of the README's Kubernetes example."""
    text = README.read_text(encoding="utf-8")
    for block in re.findall(r"^```yaml\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        data = yaml.safe_load(block)
        if isinstance(data, dict) and K8S in data.get("execution", {}).get("config", {}):
            return data["execution"]["config"][K8S]
    raise AssertionError("the README has no execution.config.k8s example")


def _kubeconfig(tmp_path: Path, port: int | None = None) -> tuple[Path, int]:
    """A kubeconfig whose cluster is `port` on loopback (by default one nothing listens on)."""
    if port is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path, port


def _executor(config: dict[str, Any]) -> dg.Executor:
    with dg.instance_for_test() as instance:
        return chunks_executor.executor_creation_fn(  # type: ignore[misc]
            dg.InitExecutorContext(
                job=InMemoryJob(build_chunks),
                executor_def=chunks_executor,
                executor_config={K8S: config},
                instance=instance,
            )
        )


def test_the_readme_k8s_example_builds_dagster_k8s_step_executor(tmp_path: Path) -> None:
    readme = _readme_k8s_config()
    kubeconfig, _ = _kubeconfig(tmp_path)
    config = {**readme, "load_incluster_config": False, "kubeconfig_file": str(kubeconfig)}
    executor = _executor(config)
    from dagster_k8s.executor import K8sStepHandler  # 1.5 s: imported by the tests that need it

    assert isinstance(executor, StepDelegatingExecutor)
    handler = executor._step_handler
    assert isinstance(handler, K8sStepHandler)
    context = handler._executor_container_context
    assert context.namespace == readme["job_namespace"]
    container = context.run_k8s_config.container_config
    assert container["image_pull_policy"] == readme["image_pull_policy"]
    assert container["resources"] == readme["resources"]
    assert container["volume_mounts"] == readme["volume_mounts"]
    assert context.run_k8s_config.pod_spec_config["volumes"] == readme["volumes"]
    assert executor._max_concurrent == readme["max_concurrent"]


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"job_namespace": "data", "max_concurent": 4}, "max_concurent"),
        ({"job_namespace": 7}, "job_namespace"),
    ],
)
def test_a_wrong_k8s_config_is_refused_naming_its_key(config: dict[str, Any], named: str) -> None:
    with pytest.raises(dg.Failure) as info:
        _executor({**config, "load_incluster_config": False})
    assert f"execution.config.{K8S}" in str(info.value) and named in str(info.value)


class _RefusingApi(http.server.ThreadingHTTPServer):
    """A Kubernetes API server on loopback that records each request (method, path, body) and
    refuses it with 403 Forbidden: not a status dagster-k8s retries (a closed port is retried
    three times, 10 s apart)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _refuse(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                api.requests.append((self.command, self.path, body))
                status = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                          "message": "refused by the test's API server", "reason": "Forbidden",
                          "code": 403}  # fmt: skip
                data = orjson.dumps(status)
                self.send_response(403)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _refuse

        super().__init__(("127.0.0.1", 0), Handler)
        self.daemon_threads = True


@pytest.fixture
def refusing_api() -> Iterator[_RefusingApi]:
    api = _RefusingApi()
    threading.Thread(target=api.serve_forever, daemon=True).start()
    try:
        yield api
    finally:
        api.shutdown()
        api.server_close()


def test_a_k8s_run_sends_its_plan_step_job_to_the_kubeconfig_cluster(
    tmp_path: Path, refusing_api: _RefusingApi
) -> None:
    """The run's first step is launched as a Kubernetes Job on the kubeconfig's API server
    (a loopback server here, which refuses it): the Job of the `plan` step, with the README's
    image and namespace, reaches it, and the run fails naming the refusal."""
    kubeconfig, _ = _kubeconfig(tmp_path, refusing_api.server_address[1])
    config = sample_with_chunks(tmp_path, 40384)
    k8s = {
        **_readme_k8s_config(),
        "job_image": "jsonl-assets:test",
        "load_incluster_config": False,
        "kubeconfig_file": str(kubeconfig),
    }
    run_config = {
        "ops": {"plan": {"config": {"partition": "sft|train"}}},
        "resources": {"pipeline": {"config": {"config_path": str(config)}}},
        "execution": {"config": {K8S: k8s}},
    }
    # dagster-k8s's step handler reads the defaults of the instance's K8sRunLauncher.
    launcher = {
        "module": "dagster_k8s",
        "class": "K8sRunLauncher",
        "config": {
            "instance_config_map": "dagster-instance",
            "service_account_name": "dagster",
            "load_incluster_config": False,
            "kubeconfig_file": str(kubeconfig),
        },
    }
    with dg.instance_for_test(overrides={"run_launcher": launcher}) as instance:
        result = dg.execute_job(
            dg.reconstructable(build_chunks),
            instance=instance,
            run_config=run_config,
            raise_on_error=False,
        )
        assert not result.success
        messages = " ".join(
            str(e.message) + str(getattr(e.event_specific_data, "error", ""))
            for e in result.all_events
        )
    method, path, body = refusing_api.requests[0]
    assert (method, path) == ("POST", f"/apis/batch/v1/namespaces/{k8s['job_namespace']}/jobs")
    job = orjson.loads(body)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "jsonl-assets:test"
    assert job["metadata"]["labels"]["dagster/op"] == "plan"
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert env["DAGSTER_RUN_STEP_KEY"] == "plan" and env["DAGSTER_RUN_JOB_NAME"] == "build_chunks"
    assert "refused by the test's API server" in messages, messages[-2000:]
    assert "Forbidden" in messages and "create_namespaced_job" in messages
    assert not (tmp_path / "package").exists()  # no step ran here
