"""The local store reads only regular files: a FIFO (or a device) where the project reads one
of its own files (a work dir's package.json, a package's metadata.json, a marker) is refused
at once with an OSError naming it, never a read that waits for a writer forever. Before, a
FIFO named `package.json` in the work dir, or `metadata.json` in the package dir, hung the
build without a word."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jsonl_assets.core.store.base import read_bytes
from jsonl_assets.core.store.local import NotRegularFile
from jsonl_assets_tests.conftest import write_config


def test_a_fifo_or_a_device_is_refused_and_a_folder_is_a_folder(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    for path in (tmp_path / "fifo", Path("/dev/null")):
        with pytest.raises(NotRegularFile, match="not a regular file"):
            read_bytes(path)
    with pytest.raises(IsADirectoryError):
        read_bytes(tmp_path)
    (tmp_path / "f").write_bytes(b"x")
    assert read_bytes(tmp_path / "f") == b"x"


@pytest.mark.parametrize(("where", "said"), [("w", "output.work_dir"), ("pkg", "metadata.json")])
def test_a_build_meeting_a_fifo_among_its_own_files_ends_and_says_so(
    tmp_path: Path, where: str, said: str
) -> None:
    (tmp_path / "notes.jsonl").write_text('{"id": "a", "text": "a note"}\n', encoding="utf-8")
    config = write_config(
        tmp_path / "p.yaml",
        {
            "dataset": {"name": "fifo", "description": "a FIFO among our files"},
            "output": {"dir": "pkg", "work_dir": "w", "quarantine_dir": "q"},
            "sources": [{"name": "n", "paths": ["notes.jsonl"], "objective": "cpt",
                         "adapter": "text", "split": "train", "id_field": "id"}],
        },
    )  # fmt: skip
    (tmp_path / where).mkdir()
    os.mkfifo(tmp_path / where / ("package.json" if where == "w" else "metadata.json"))
    code = (
        "import sys; from jsonl_assets.core.build import build_partition; "
        "from jsonl_assets.core.config import load_config; "
        "build_partition(load_config(sys.argv[1]), 'cpt|train')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(config)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0 and said in done.stderr, done.stderr[-2000:]
