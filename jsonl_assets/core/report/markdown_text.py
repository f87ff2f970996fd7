"""Markdown for text that is not ours (record values, config strings, file names): every
place that writes Markdown (DATACARD.md, the Dagster metadata's tables) goes through here, so
no value can add a heading, a list item, a table row or live HTML, or hide characters.

* `visible`: control characters (C0, DEL, C1), bidi controls, line/paragraph separators and
  lone surrogates become escapes (`\\n`, `\\r`, `\\t`, `\\u202e`, ...): never raw.
* `md_text`: plain text; `visible`, then every character Markdown (CommonMark, GFM, GitHub's
  `$` maths) gives a meaning to inline is backslash-escaped (`< > &` too: no HTML, no
  entity), spaces at either end as `&#32;` (else trimmed), and, at the start of a line,
  what would open a block (`-`, `+`, `=`, `>`, `1.`).
* `md_code`: a code span whose fence is longer than any backtick run inside.
* `md_table`: a GFM table; a cell is `md_text` of its value unless it is `Md` (Markdown
  made here) already.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final


class Md(str):
    """Text that is Markdown already (made by this module's functions): not escaped again."""

    __slots__ = ()


_INVISIBLE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_SHORT: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# `_` between two letters or digits cannot open or close emphasis (`support_chats` stays so).
_SPECIAL: Final = re.compile(r"[\\`*\[\]<>&|~#$]|(?<![^\W_])_|_(?![^\W_])")
_BLOCK_START: Final = re.compile(r"[-+=>]|[0-9]{1,9}[.)]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT.get(char) or f"\\u{ord(char):04x}"


def visible(text: str) -> str:
    """`text` with its control, bidi and separator characters written as escapes."""
    return _INVISIBLE.sub(_escape, text)


def md_text(value: Any, line_start: bool = False) -> Md:
    """`value` as Markdown inline text that renders as itself (`visible`). `line_start`: it
    begins a line (a paragraph, a heading's text), so block markers are escaped too."""
    text = _SPECIAL.sub(r"\\\g<0>", visible(str(value)))
    body = text.strip(" ")
    if line_start and (start := _BLOCK_START.match(body)):
        body = body[: start.end() - 1] + "\\" + body[start.end() - 1 :]
    # Spaces at either end are trimmed (a paragraph, a cell) or open a code block (4 of them).
    lead = "&#32;" * (len(text) - len(text.lstrip(" ")))
    trail = "&#32;" * (len(text) - len(text.rstrip(" "))) if body else ""
    return Md(lead + body + trail)


def md_code(value: Any, in_table: bool = False) -> Md:
    """`value` as a code span (`visible`): fenced by more backticks than its longest run,
    padded with a space where CommonMark would strip one. `in_table`: its `|` escaped (GFM
    splits cells before it parses code spans)."""
    body = visible(str(value))
    if not body:
        return Md("` `")
    longest = max((len(run) for run in re.findall("`+", body)), default=0)
    fence = "`" * (longest + 1)
    if body[0] == "`" or body[-1] == "`" or (body[0] == body[-1] == " " and body.strip(" ")):
        body = f" {body} "
    if in_table:
        body = body.replace("|", "\\|")
    return Md(f"{fence}{body}{fence}")


def md_cell(value: Any) -> Md:
    """A table cell: `Md` as it is, an int with thousands separators, else `md_text`."""
    if isinstance(value, Md):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Md(f"{value:,}")
    return md_text(value)


def md_table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> Md:
    """A GFM table of `header` and `rows` (each cell through `md_cell`)."""
    lines = ["| " + " | ".join(md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md_cell(v) for v in row) + " |" for row in rows]
    return Md("\n".join(lines))
