"""Markdown for text that is not ours (record values, config strings, file names): every
place that writes Markdown (DATACARD.md, the Dagster metadata's tables) goes through here, so
no value can add a heading, a list item, a table row or live HTML, or hide characters.

* `visible`: every character that shows nothing of itself becomes an escape (`\\n`, `\\r`,
  `\\t`, `\\u200b`, `\\U000e0041`, ...): never raw. Decided by Unicode category, not a list:
  controls (Cc), format characters (Cf: bidi controls, zero-width space and joiners, word
  joiner, BOM, soft hyphen, tag characters), line and paragraph separators (Zl, Zp), lone
  surrogates (Cs), private use (Co) and unassigned code points (Cn, as Python's Unicode
  database knows them). So `MIT` and `MIT\\u200b` never look alike. Ordinary text (accents,
  combining marks, CJK, emoji) stays; an emoji ZWJ sequence shows its joiners as `\\u200d`.
* `visible_value`: a value shown as a value (a licence, a file or source name, a grading
  type: in a code span, a table cell, a chart label), `visible` and, escaped the same way,
  the spaces a reader could not count: at either end, in a run of two or more (HTML and
  Markdown collapse or trim them) and every space other than U+0020 (U+00A0 looks like
  one). So ` `, `  ` and `a  b` never look like `` (nothing), ` ` or `a b`. report.html
  (`html_report`, `charts`) and DATACARD.md (`md_code`) use this one rule.
* `md_text`: plain text; `visible`, then every character Markdown (CommonMark, GFM, GitHub's
  `$` maths) gives a meaning to inline is backslash-escaped (`< > &` too: no HTML, no
  entity), spaces at either end as `&#32;` (else trimmed), and, at the start of a line,
  what would open a block (`-`, `+`, `=`, `>`, `1.`).
* `md_code`: a code span (`visible_value`) whose fence is longer than any backtick run inside.
* `md_list`: a bullet list, each item `md_text` at a line start.
* `md_table`: a GFM table; a cell is `md_text` of its value unless it is `Md` (Markdown
  made here) already.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, Final


class Md(str):
    """Text that is Markdown already (made by this module's functions): not escaped again."""

    __slots__ = ()


# Categories of the characters that show nothing of themselves (or nothing reliable).
_INVISIBLE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_ASCII_CONTROLS: Final = re.compile("[\x00-\x1f\x7f]")
_SHORT: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# `_` between two letters or digits cannot open or close emphasis (`support_chats` stays so).
_SPECIAL: Final = re.compile(r"[\\`*\[\]<>&|~#$]|(?<![^\W_])_|_(?![^\W_])")
_BLOCK_START: Final = re.compile(r"[-+=>]|[0-9]{1,9}[.)]")


def _escaped(char: str) -> str:
    code = ord(char)
    return _SHORT.get(char) or (f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")


def visible(text: str) -> str:
    """`text` with every character of an invisible category (`_INVISIBLE_CATEGORIES`)
    written as an escape."""
    if text.isascii():  # the common case: only C0 and DEL can hide
        return _ASCII_CONTROLS.sub(lambda m: _escaped(m.group()), text)
    category = unicodedata.category
    return "".join(_escaped(c) if category(c) in _INVISIBLE_CATEGORIES else c for c in text)


# After `visible`, whitespace left is a space (Zs): U+0020 is kept where one shows as one.
_HIDDEN_SPACES: Final = re.compile(r"^\s+|\s+$|\s{2,}|[^\S ]")


def visible_value(text: str) -> str:
    """`text` as a value shows it (`visible`, and the spaces that would not show as such
    written as escapes: see the module's doc)."""
    return _HIDDEN_SPACES.sub(lambda m: "".join(map(_escaped, m.group())), visible(text))


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
    """`value` as a code span (`visible_value`): fenced by more backticks than its longest
    run, padded with a space where CommonMark would strip one. `in_table`: its `|` escaped
    (GFM splits cells before it parses code spans)."""
    body = visible_value(str(value))
    if not body:
        return Md("` `")
    longest = max((len(run) for run in re.findall("`+", body)), default=0)
    fence = "`" * (longest + 1)
    if body[0] == "`" or body[-1] == "`":  # (never a space at either end: visible_value)
        body = f" {body} "
    if in_table:
        body = body.replace("|", "\\|")
    return Md(f"{fence}{body}{fence}")


def md_list(items: Iterable[Any]) -> Md:
    """A bullet list, one item per value (`md_text`, escaped as at a line start: an item
    cannot open a nested list, a quote or a heading)."""
    return Md("\n".join(f"- {md_text(item, line_start=True)}" for item in items))


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
