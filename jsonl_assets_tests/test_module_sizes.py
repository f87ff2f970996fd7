"""The code's layout rule: every module of the product (`jsonl_assets/`, and `run.py`) stays
under 500 lines, so a concern that grows is split into modules named after their parts."""

from __future__ import annotations

from pathlib import Path

import jsonl_assets

PACKAGE = Path(jsonl_assets.__file__).resolve().parent
MAX_LINES = 500


def test_every_product_module_is_under_500_lines() -> None:
    modules = [*PACKAGE.rglob("*.py"), PACKAGE.parent / "run.py"]
    sizes = {str(m.relative_to(PACKAGE.parent)): len(m.read_bytes().splitlines()) for m in modules}
    assert len(sizes) > 100  # the whole package was found
    assert {m: n for m, n in sizes.items() if n >= MAX_LINES} == {}
