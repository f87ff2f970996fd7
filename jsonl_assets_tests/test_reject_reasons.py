"""Every reason code the code base can emit counts toward a rate by the table of
`reject_reasons.py`, not by the stage fallback: a new code must be placed in the table.

The codes are found in the source (the AST of every module of `jsonl_assets/`), wherever a
reason is made: `reason=` arguments, names holding a reason, the first argument of
`AdapterError(...)` and of a quarantine's `add(...)`, the codes returned by the transformed
stage's `_rejection`, the entries of the validated stage, and every `adapter:`/`schema:`/
`quality:` literal or f-string prefix.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jsonl_assets
from jsonl_assets.core.rules import reject_reasons
from jsonl_assets.core.rules.reject_reasons import known_rate

PACKAGE = Path(jsonl_assets.__file__).parent
FAMILY = re.compile(r"^(adapter|schema|quality):[a-z0-9_]*$")
CODE = re.compile(r"^[a-z][a-z0-9_]*(:[a-z0-9_]*)?$")


def _strings(node: ast.AST | None) -> list[str]:
    """The reason codes an expression can evaluate to: constants, both arms of `a if c else
    b`, and the constant prefix of an f-string (`f"schema:{rule}"` -> `schema:`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and str(first.value).endswith(":"):
            return [str(first.value)]
    return []


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        owner = func.value
        owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
        return f"{owner_name}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else ""


def emitted_codes() -> dict[str, str]:
    """code -> the module and line it was found at."""
    found: dict[str, str] = {}

    def add(values: list[str], path: Path, node: ast.AST) -> None:
        for value in values:
            if CODE.match(value):
                found.setdefault(value, f"{path.relative_to(PACKAGE)}:{node.lineno}")  # type: ignore[attr-defined]

    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if FAMILY.match(node.value):
                    add([node.value], path, node)
            elif isinstance(node, ast.JoinedStr):
                add([s for s in _strings(node) if FAMILY.match(s)], path, node)
            elif isinstance(node, ast.Call):
                name = _call_name(node)
                for kw in node.keywords:
                    if kw.arg == "reason":
                        add(_strings(kw.value), path, node)
                if node.args and (
                    name.endswith("AdapterError")
                    or name.endswith("Rejection")
                    or (name.endswith(".add") and "quarantine" in name)
                ):
                    first = node.args[1] if name.endswith("Rejection") else node.args[0]
                    add(_strings(first), path, node)
                # The validated stage's entries: (index, reason, detail, trace, raw, extra).
                if name.endswith("entries.append") and node.args:
                    entry = node.args[0]
                    if isinstance(entry, ast.Tuple) and len(entry.elts) > 1:
                        add(_strings(entry.elts[1]), path, node)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and "reason" in t.id.lower() for t in targets):
                    add(_strings(node.value), path, node)
            elif isinstance(node, ast.FunctionDef) and "rejection" in node.name:
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Return) and isinstance(sub.value, ast.Tuple):
                        add(_strings(sub.value.elts[0]), path, sub)
    return found


def test_every_reason_the_code_base_emits_counts_toward_a_rate() -> None:
    codes = emitted_codes()
    # The scan finds every kind of place a code is made (so it can fail).
    for code in (
        "parse_error",
        "csv_field_count",
        "invalid_encoding",
        "corrupt_file",
        "adapter:missing_field",
        "adapter:no_records",
        "missing_id",
        "unserializable",
        "schema:",
        "duplicate_id",
    ):
        assert code in codes, (code, sorted(codes))
    unmapped = {code: where for code, where in codes.items() if known_rate(code) is None}
    assert not unmapped, f"reason codes that count toward no rate: {unmapped}"


def test_the_table_places_each_family() -> None:
    assert known_rate("adapter:whatever_new") == reject_reasons.ADAPTER_REJECT_RATE
    assert known_rate("quality:empty_assistant") == reject_reasons.INVALID_RATE
    assert known_rate("schema:E7") == reject_reasons.INVALID_RATE
    assert known_rate("duplicate_id") == reject_reasons.DUPLICATE_ID_RATE
    assert known_rate("unsupported_value") == reject_reasons.PARSE_FAILURE_RATE
    assert known_rate("brand_new") is None
    # An unknown code still counts, toward its stage's rate.
    assert reject_reasons.rate_of("brand_new", "validated") == reject_reasons.INVALID_RATE
