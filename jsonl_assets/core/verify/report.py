"""What `verify` finds and reports: `Finding`, `ShardCheck`, `VerifyReport`, and the `Sink`
that keeps the first findings of each (rule, file) and counts every one.

Findings are kept for the first `FINDINGS_PER_RULE_FILE` (20) of each (rule, file) and
`FINDINGS_PER_RULE` (1000) of each rule; all are counted (`error_count`, `warning_count`,
`omitted`). A caller with many findings asks `Sink.wants` first and `Sink.skip`s the ones
that would not be kept, without formatting their messages; `Sink.add_run` adds a run of
findings on consecutive lines (blank lines) in one step.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass, field
from typing import Final

from jsonl_assets.core.rules import ERROR, WARNING, Problem, json_type_name
from jsonl_assets.core.rules.walk_state import PROBLEMS_PER_RULE, Problems

METADATA_FILE: Final = "metadata.json"
FINDINGS_PER_RULE_FILE: Final = 20
FINDINGS_PER_RULE: Final = 1000  # kept per rule over all files; past it only counted
# A record's walk holds as many of a rule as a file keeps: a record lists what it did before.
assert PROBLEMS_PER_RULE >= FINDINGS_PER_RULE_FILE

jtype = json_type_name
# Values from a hostile manifest are shown short and flat: reprlib stops at depth 6 and
# long strings/containers, where repr() would recurse 1,000 levels or print megabytes.
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 120
show = _REPR.repr


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken rule. `file` is relative to the package dir; `line` is 1-based or None."""

    rule: str
    severity: str  # "error" | "warning"
    file: str
    line: int | None
    message: str


@dataclass
class ShardCheck:
    """Result of verifying one shard: what is on disk, and what is wrong with it.

    `sha256`/`bytes` describe the on-disk file ("" / 0 when it could not be read);
    `record_count` is the number of non-empty lines found (the declared count when the
    shard was trusted by hash, `parsed` False). `findings` is capped per rule; the counts
    cover every finding and `omitted` says how many were left out, per rule.
    """

    path: str
    sha256: str
    record_count: int
    bytes: int
    findings: list[Finding]
    error_count: int = 0
    warning_count: int = 0
    omitted: dict[str, int] = field(default_factory=dict)
    parsed: bool = True
    # The finding that says the records were no longer checked past --max-shard-errors (it
    # is also in `findings`, and is listed whatever the caps).
    stopped: Finding | None = None
    # Every record of the file was read (not trusted by hash, not stopped, no damage, a
    # known compression): only then are its ids and asset references all known.
    whole: bool = False

    @property
    def ok(self) -> bool:
        return self.error_count == 0


@dataclass
class VerifyReport:
    """Result of verifying a package. `findings` is capped per (rule, file); the counts and
    `omitted` ((rule, file) -> findings left out) cover everything found."""

    findings: list[Finding]
    error_count: int
    warning_count: int
    records_checked: int
    shards_checked: int
    omitted: dict[tuple[str, str], int] = field(default_factory=dict)
    shards_trusted: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0


class Sink:
    """Collects findings, keeping the first `cap` per (rule, file) and `FINDINGS_PER_RULE`
    per rule, and counting every one. Past the per-rule cap, omitted findings are counted
    under (rule, "*"): a manifest of a million bad entries costs no memory per entry."""

    def __init__(self, cap: int = FINDINGS_PER_RULE_FILE) -> None:
        self.cap = cap
        self.findings: list[Finding] = []
        self.kept: dict[tuple[str, str], int] = {}
        self.per_rule: dict[str, int] = {}
        self.omitted: dict[tuple[str, str], int] = {}
        self.errors = 0
        self.warnings = 0

    def add(self, rule: str, severity: str, file: str, line: int | None, message: str) -> None:
        if severity == ERROR:
            self.errors += 1
        else:
            self.warnings += 1
        self._keep(Finding(rule, severity, file, line, message))

    def _keep(self, finding: Finding) -> None:
        rule_kept = self.per_rule.get(finding.rule, 0)
        if rule_kept >= FINDINGS_PER_RULE:
            key = (finding.rule, "*")
            self.omitted[key] = self.omitted.get(key, 0) + 1
            return
        key = (finding.rule, finding.file)
        kept = self.kept.get(key, 0)
        if kept < self.cap:
            self.kept[key] = kept + 1
            self.per_rule[finding.rule] = rule_kept + 1
            self.findings.append(finding)
        else:
            self.omitted[key] = self.omitted.get(key, 0) + 1

    def wants(self, rule: str, file: str) -> bool:
        """Whether the next finding of (rule, file) would be kept (else `skip` it)."""
        return (
            self.per_rule.get(rule, 0) < FINDINGS_PER_RULE
            and self.kept.get((rule, file), 0) < self.cap
        )

    def skip(self, rule: str, severity: str, file: str, n: int = 1) -> None:
        """Count `n` findings that `wants` said would not be kept (no message is made)."""
        if severity == ERROR:
            self.errors += n
        else:
            self.warnings += n
        full = self.per_rule.get(rule, 0) >= FINDINGS_PER_RULE
        key = (rule, "*" if full else file)
        self.omitted[key] = self.omitted.get(key, 0) + n

    def add_run(
        self, rule: str, severity: str, file: str, first_line: int, n: int, message: str
    ) -> None:
        """`n` findings on lines first_line, first_line + 1, ... (as `n` calls of `add`)."""
        while n and self.wants(rule, file):
            self.add(rule, severity, file, first_line, message)
            first_line += 1
            n -= 1
        if n:
            self.skip(rule, severity, file, n)

    def always(self, finding: Finding) -> None:
        """Keep `finding` whatever the caps (it says what was not checked)."""
        if finding.severity == ERROR:
            self.errors += 1
        else:
            self.warnings += 1
        self.findings.append(finding)

    def error(self, rule: str, file: str, line: int | None, message: str) -> None:
        self.add(rule, ERROR, file, line, message)

    def warning(self, rule: str, file: str, line: int | None, message: str) -> None:
        self.add(rule, WARNING, file, line, message)

    def problems(self, problems: list[Problem], file: str, line: int | None) -> None:
        """A record's problems; those its walk only counted (`Problems.omitted`, past a cap
        not below this sink's) are counted here as findings left out."""
        for problem in problems:
            self.add(problem.rule, problem.severity, file, line, problem.message)
        if isinstance(problems, Problems):
            for (rule, severity), count in problems.omitted.items():
                self.count(rule, severity, file, count)

    def count(self, rule: str, severity: str, file: str, count: int) -> None:
        """Count `count` findings that were never made (a record walk held only the first
        ones of their rule): they are counted as omitted, like findings past the caps."""
        if severity == ERROR:
            self.errors += count
        else:
            self.warnings += count
        full = self.per_rule.get(rule, 0) >= FINDINGS_PER_RULE
        key = (rule, "*" if full else file)
        self.omitted[key] = self.omitted.get(key, 0) + count

    def meta_error(self, rule: str, message: str) -> None:
        self.add(rule, ERROR, METADATA_FILE, None, message)

    def meta_warning(self, rule: str, message: str) -> None:
        self.add(rule, WARNING, METADATA_FILE, None, message)

    def merge(self, check: ShardCheck) -> None:
        for finding in check.findings:
            if finding is check.stopped:
                self.findings.append(finding)
            else:
                self._keep(finding)
        for rule, count in check.omitted.items():
            full = self.per_rule.get(rule, 0) >= FINDINGS_PER_RULE
            key = (rule, "*" if full else check.path)
            self.omitted[key] = self.omitted.get(key, 0) + count
        self.errors += check.error_count
        self.warnings += check.warning_count


def too_long(length: int, limit: int) -> str:
    """The message of a line longer than --max-line-bytes (D1 in a shard, G2 in the index)."""
    return (
        f"line is longer than --max-line-bytes ({limit}; {length} bytes read): it was not "
        "parsed (the build's limits.max_record_bytes bounds records the same way)"
    )


def not_json(data: bytes, exc: BaseException) -> str:
    """Why the JSON parser refused `data` (a line, or metadata.json), as "invalid UTF-8 at
    byte N (...)" when its bytes are not UTF-8 (orjson calls any such byte a surrogate), else
    the parser's message. N counts from 0, as the build's reader says it (`invalid_utf8`)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        at = bad.start
        pair = data[at : at + 2]
        if len(pair) == 2 and pair[0] == 0xED and pair[1] >= 0xA0:
            why = f"0xed 0x{pair[1]:02x}: a UTF-16 surrogate, U+D800-U+DFFF, encoded as UTF-8"
        else:
            why = f"0x{data[at]:02x}: {bad.reason}"
        return f"invalid UTF-8 at byte {at} ({why})"
    return str(exc)
