"""The README's "Command-line reference" lists every flag of every `jsonl-assets` subcommand
(as `--help` shows them) and no flag the subcommand does not have: `verify --warnings` was
in `--help` but nowhere in the README. And the flags' value types refuse in one line."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from jsonl_assets.cli_arguments import byte_size
from jsonl_assets.cli_parser import command_parser

README = Path(__file__).resolve().parent.parent / "README.md"
RUN_PY = README.parent / "run.py"


def _reference_rows() -> list[tuple[str, str]]:
    """(command, flag or positional) of each row of the README's command-line reference."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Command-line reference\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows.append((cells[0].strip("`"), cells[1]))
    return rows


def _options() -> dict[str, set[str]]:
    """Each subcommand's option strings (`--help` aside) and positionals, as `--help` lists."""
    parser = command_parser("")
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: dict[str, set[str]] = {}
    for name, command in sub.choices.items():
        found[name] = set()
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            found[name].update(action.option_strings or [action.dest])
    return found


def _flag(cell: str) -> str:
    return cell.strip("`").split(" ")[0]


def test_every_flag_of_every_subcommand_is_in_the_reference() -> None:
    rows = {(cmd, _flag(cell)) for cmd, cell in _reference_rows()}
    options = _options()
    assert set(options) == {"build", "verify", "report"}
    missing = [(cmd, flag) for cmd, flags in options.items() for flag in flags]
    missing = [m for m in missing if m not in rows]
    assert not missing, f"in --help, not in the README's command-line reference: {missing}"


def test_every_flag_of_the_reference_exists() -> None:
    options = _options()
    assert len(_reference_rows()) >= sum(map(len, options.values()))
    run_py = RUN_PY.read_text(encoding="utf-8")
    for cmd, cell in _reference_rows():
        flag = _flag(cell)
        if cmd.startswith("run.py "):
            task = cmd.split(" ", 1)[1]
            assert f"python3 run.py {task}" in run_py, cmd
            assert not flag.startswith("-") or f'"{flag}"' in run_py or task == "test", cell
        else:
            assert flag in options[cmd], f"README: `{cmd} {flag}` is not a flag of {cmd}"


@pytest.mark.parametrize("text", ["", " ", "B", "iB", "KiB", "x"])
def test_a_byte_size_with_no_number_is_refused_in_one_line(text: str) -> None:
    """An empty rest matched the units table's "" key: an IndexError traceback, exit 1."""
    with pytest.raises(argparse.ArgumentTypeError, match="not a byte size"):
        byte_size(text)
    assert byte_size("16MiB") == 16 << 20 and byte_size("1") == 1
