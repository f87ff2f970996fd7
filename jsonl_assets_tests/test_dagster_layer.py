"""The Dagster layer's boundaries: only `jsonl_assets/defs/` imports dagster, `verify` runs
without it, and importing the code location reads no config and expands no glob."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import yaml

import jsonl_assets
from jsonl_assets.core.config import CONFIG_ENV_VAR

PACKAGE = Path(jsonl_assets.__file__).resolve().parent


def _imports_dagster(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "dagster" for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "dagster":
            return True
    return False


def test_only_the_dagster_layer_imports_dagster() -> None:
    """Every module with an `import dagster` (at the top or inside a function) is in defs/."""
    importing = sorted(
        str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if _imports_dagster(p)
    )
    assert importing, "the scan found no Dagster module at all"
    assert [p for p in importing if not p.startswith("defs/")] == []


def _python(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_verify_runs_without_dagster(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from jsonl_assets.cli import main\n"
        f"code = main(['verify', {str(tmp_path / 'empty')!r}])\n"
        "print('dagster loaded' if 'dagster' in sys.modules else 'no dagster', code)\n"
    )
    (tmp_path / "empty").mkdir()
    out = _python(code, {}, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "INVALID" in out.stdout
    assert out.stdout.splitlines()[-1] == "no dagster 1"


# Records every file opened and every folder listed under the project folder, first while the
# code location's modules are imported, then while Dagster loads it (calls `defs`).
AUDIT = """
import importlib, os, sys
root = os.environ["PROJECT"]
seen = []
def hook(event, args):
    if event in ("open", "os.scandir", "os.listdir", "glob.glob") and args and args[0]:
        path = args[0]
        if isinstance(path, (str, bytes, os.PathLike)) and os.fsdecode(path).startswith(root):
            seen.append((event, os.fsdecode(path)[len(root):]))
sys.addaudithook(hook)
for name in ("partitions", "resources", "observations", "assets", "checks", "jobs",
             "schedules", "sensors", "definitions"):
    importlib.import_module("jsonl_assets.defs." + name)
print("import:", sorted(set(seen)))
seen.clear()
from jsonl_assets.defs.definitions import defs
repo = defs().get_repository_def()
print("load:", bool(seen))
print(repo.get_schedule_def("package_rebuild").cron_schedule)
print(repo.get_sensor_def("raw_sources_changed").minimum_interval_seconds)
"""


def test_importing_the_code_location_reads_no_config(sample_project: Path) -> None:
    """Import reads nothing under the project (no config, no glob); loading the code location
    reads the config's `schedule.cron` and `sensor.interval_seconds`."""
    data = yaml.safe_load(sample_project.read_text())
    data["schedule"] = {"cron": "15 1 * * 1"}
    data["sensor"] = {"interval_seconds": 17}
    sample_project.write_text(yaml.safe_dump(data, sort_keys=False))
    project = sample_project.parent
    env = {CONFIG_ENV_VAR: str(sample_project), "PROJECT": str(project)}
    out = _python(AUDIT, env, project.parent)  # the cwd is listed by imports: outside
    assert out.stdout.splitlines()[:1] == ["import: []"], out.stdout
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["import: []", "load: True", "15 1 * * 1", "17"]
