"""The sample package's bytes are pinned: an optimisation or refactor must not change them.

The sha256 of every package and quarantine file of the sample build (zstd, as configured)
was recorded before the performance work (the quarantine under its logical path, see
`_digests`); a change that alters any output byte fails here
and must be deliberate (regenerate with `python -m jsonl_assets_tests.test_golden_package`).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import pytest

from .conftest import SAMPLE_DATA, build_with_core, published_quarantine

GOLDEN = Path(__file__).parent / "golden" / "sample_package.sha256"


def _digests(data_dir: Path) -> str:
    """Every package file by its path; the quarantine published with the package (found
    through the snapshot's pointer, which must name every file of the quarantine dir) by
    `quarantine/<objective>/<split>/<stage>.jsonl`, its path before quarantines were
    published in content-addressed folders."""
    lines = []
    for path in sorted((data_dir / "package").rglob("*")):
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            lines.append(f"{digest}  {path.relative_to(data_dir).as_posix()}\n")
    quarantine = data_dir / "quarantine"
    published = published_quarantine(data_dir / "package", quarantine)
    for logical, path in published.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  quarantine/{logical}\n")
    metadata = (data_dir / "package" / "metadata.json").read_bytes()
    pointer = quarantine / "snapshots" / f"{hashlib.sha256(metadata).hexdigest()[:16]}.json"
    held = {p for p in quarantine.rglob("*") if p.is_file()}
    assert held == {pointer, *published.values()}, held  # nothing else in the quarantine dir
    return "".join(sorted(lines, key=lambda line: line.split("  ", 1)[1]))


def _build(tmp: Path, one_pass: bool = True) -> Path:
    data = tmp / "data"
    shutil.copytree(SAMPLE_DATA / "raw", data / "raw")
    shutil.copyfile(SAMPLE_DATA / "pipeline.yaml", data / "pipeline.yaml")
    build_with_core(data / "pipeline.yaml", one_pass)
    return data


@pytest.mark.parametrize("one_pass", [True, False], ids=["one-pass", "stage-by-stage"])
def test_sample_package_bytes_are_unchanged(tmp_path: Path, one_pass: bool) -> None:
    expected = GOLDEN.read_text()
    assert _digests(_build(tmp_path, one_pass)) == expected


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        GOLDEN.write_text(_digests(_build(Path(tmp))))
    sys.stdout.write(f"wrote {GOLDEN}\n")
