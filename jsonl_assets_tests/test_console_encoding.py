"""A console whose encoding cannot show every character (a Latin-1 or ASCII locale): the CLI prints
what it cannot encode as escapes and the build goes on."""

from __future__ import annotations

from pathlib import Path

import yaml

from jsonl_assets_tests import test_restart as restart


def test_a_build_prints_a_name_its_console_cannot_encode_as_escapes(tmp_path: Path) -> None:
    config = restart.make_project(tmp_path, chats=120, notes=60)
    cfg = yaml.safe_load(config.read_text(encoding="utf-8"))
    cfg["dataset"]["name"] = "jardín 花园"
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    done = restart.run_cli_build(config, env={"PYTHONIOENCODING": "ascii"}, keys=("cpt|train",))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "of jard\\xedn \\u82b1\\u56ed with" in done.stdout
    assert (tmp_path / "package" / "metadata.json").is_file()
