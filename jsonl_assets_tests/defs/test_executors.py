"""The chunk job's executor selector (defs/executors.py): the `k8s` choice is dagster-k8s's
own `k8s_job_executor`, built from the README's example config as written, and a run on it
really asks the Kubernetes API (of a kubeconfig naming a closed loopback port) for its pods.
No cluster runs here, so no pod starts."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import dagster as dg
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


def _kubeconfig(tmp_path: Path) -> tuple[Path, int]:
    """A kubeconfig whose cluster is a loopback port nothing listens on."""
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


def test_a_k8s_run_asks_the_kubeconfig_cluster_for_its_plan_step_pod(tmp_path: Path) -> None:
    """The run's first step is launched as a Kubernetes Job on the kubeconfig's API server: a
    closed loopback port here, so the launch fails and names that address."""
    kubeconfig, port = _kubeconfig(tmp_path)
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
    # urllib3's refusal, from the kubernetes client's call to create the plan step's Job
    assert f"host='127.0.0.1', port={port}" in messages, messages[-2000:]
    assert "create_namespaced_job" in messages
    assert not (tmp_path / "package").exists()  # no step ran here
