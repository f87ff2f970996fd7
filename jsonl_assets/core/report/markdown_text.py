"""Markdown for text that is not ours (record values, config strings, file names): every
place that writes Markdown (DATACARD.md, the Dagster metadata's tables) goes through here, so
no value can add a heading, a list item, a table row or live HTML, or hide characters.

* `visible`: every character that shows nothing of itself becomes an escape (`\\n`, `\\r`,
  `\\t`, `\\u200b`, `\\U000e0041`, ...): never raw (`is_invisible`, the one test the card,
  report.html and the charts use). Decided by Unicode properties, not a list of examples:
  the categories controls (Cc), format characters (Cf: bidi controls, zero-width space and
  joiners, word joiner, BOM, soft hyphen, tag characters), line and paragraph separators (Zl,
  Zp), lone surrogates (Cs), private use (Co) and unassigned code points (Cn, as Python's
  Unicode database knows them); every Default_Ignorable_Code_Point (Unicode's derived
  property, which renderers draw as nothing: combining grapheme joiner, variation selectors,
  Hangul fillers, Khmer inherent vowels, Mongolian free variation selectors, ...;
  `_DEFAULT_IGNORABLE`); and the characters whose glyph is blank though they are not
  spaces (U+2800 BRAILLE PATTERN BLANK, U+1D159 MUSICAL SYMBOL NULL NOTEHEAD). So `MIT`,
  `MIT\\u200b`, `MIT\\u034f` and `MIT\\u3164` never look alike. Ordinary text (accents,
  combining marks, CJK, emoji) stays; an emoji ZWJ sequence shows its joiners as `\\u200d`,
  an emoji presentation selector as `\\ufe0f`.
* `visible_value`: a value shown as a value (a licence, a file or source name, a grading
  type: in a code span, a table cell, a chart label), `visible` and, escaped the same way,
  the spaces a reader could not count: at either end, in a run of two or more (HTML and
  Markdown collapse or trim them) and every space other than U+0020 (U+00A0 looks like
  one). So ` `, `  ` and `a  b` never look like `` (nothing), ` ` or `a b`. report.html
  (`html_report`, `charts`) and DATACARD.md (`md_code`) use this one rule.
* `unfenced_value`: a value shown without a code span around it (a chart label, inside
  report.html's double quotes): `visible_value` with `"` written `\\u0022`, and the empty
  string as `""` (`EMPTY_VALUE`), which no other value is then shown as. The card writes
  the empty string `""` too, beside code spans.
* `md_text`: plain text; `visible`, then every character Markdown (CommonMark, GFM, GitHub's
  `$` maths) gives a meaning to inline is backslash-escaped (`< > &` too: no HTML, no
  entity), spaces at either end as `&#32;` (else trimmed), and, at the start of a line,
  what would open a block (`-`, `+`, `=`, `>`, `1.`). A word that GFM's autolink extension
  would make a link without brackets (`www.`, `scheme://`, `name@domain.tld`, `_LINK_MARK`)
  is written as a code span instead (`` `www.example.com` ``): read as it is, never a link.
  A backslash escape is not enough: remark-gfm (the Dagster UI's Markdown) finds these
  words in the text after escapes are resolved; no renderer looks inside a code span.
* `md_code`: a code span (`visible_value`) whose fence is longer than any backtick run inside
  (the empty string: `""`, `EMPTY_VALUE`).
* `md_list`: a bullet list, each item `md_text` at a line start.
* `md_table`: a GFM table; a cell is `md_text` of its value unless it is `Md` (Markdown
  made here) already.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import Any, Final


class Md(str):
    """Text that is Markdown already (made by this module's functions): not escaped again."""

    __slots__ = ()


# Categories of the characters that show nothing of themselves (or nothing reliable).
_INVISIBLE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Default_Ignorable_Code_Point, from Unicode's DerivedCoreProperties.txt (Unicode 14.0.0, the
# version of Python 3.11's unicodedata, which does not expose the property; the list is the
# same through 16.0): 4,174 code points. Those of category Cf or Cn are caught by category
# already; listed whole, as the standard lists them.
_DEFAULT_IGNORABLE: Final = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)  # fmt: skip
# Not default-ignorable, not spaces, but drawn as a blank glyph (the Unicode code charts'):
# they read as a space or as nothing.
_BLANK_GLYPHS: Final = frozenset({"\u2800", "\U0001d159"})
_IGNORABLE_STARTS: Final = tuple(start for start, _ in _DEFAULT_IGNORABLE)
_ASCII_CONTROLS: Final = re.compile("[\x00-\x1f\x7f]")
_SHORT: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# `_` between two letters or digits cannot open or close emphasis (`support_chats` stays so).
_SPECIAL: Final = re.compile(r"[\\`*\[\]<>&|~#$]|(?<![^\W_])_|_(?![^\W_])")
_BLOCK_START: Final = re.compile(r"[-+=>]|[0-9]{1,9}[.)]")
# GFM's autolink literals (spec 6.9; cmark-gfm, micromark and remark-gfm's own patterns): a
# word holding `www.`, a scheme's `://` or an e-mail address, wherever it stands (a code span
# ends a text node: the text after one starts anew). The word runs to a space, `|` or a
# backtick (neither is in the code span: it would need escaping), its punctuation included.
# Found as words (`_WORD`) holding a mark (`_LINK_MARK`), never by one pattern with the word
# around the mark: that one retried the rest of a long unbroken run (CJK prose, base64) at
# every position, time quadratic in the run (40,000 characters: a minute).
_WORD: Final = re.compile(r"[^\s|`]+")
_LINK_MARK: Final = re.compile(r"(?i:www\.|://)|[-.\w+]@[-\w]+(?:\.[-\w]+)+")


def _escaped(char: str) -> str:
    code = ord(char)
    return _SHORT.get(char) or (f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")


def is_invisible(char: str) -> bool:
    """Whether `char` shows nothing of itself (see the module's doc): an invisible category,
    a Default_Ignorable_Code_Point, or a blank glyph."""
    if unicodedata.category(char) in _INVISIBLE_CATEGORIES or char in _BLANK_GLYPHS:
        return True
    code = ord(char)
    index = bisect_right(_IGNORABLE_STARTS, code) - 1
    return index >= 0 and code <= _DEFAULT_IGNORABLE[index][1]


def visible(text: str) -> str:
    """`text` with every character that shows nothing of itself (`is_invisible`) written as
    an escape."""
    if text.isascii():  # the common case: only C0 and DEL can hide
        return _ASCII_CONTROLS.sub(lambda m: _escaped(m.group()), text)
    return "".join(_escaped(c) if is_invisible(c) else c for c in text)


# After `visible`, whitespace left is a space (Zs): U+0020 is kept where one shows as one.
_HIDDEN_SPACES: Final = re.compile(r"^\s+|\s+$|\s{2,}|[^\S ]")


def visible_value(text: str) -> str:
    """`text` as a value shows it (`visible`, and the spaces that would not show as such
    written as escapes: see the module's doc)."""
    return _HIDDEN_SPACES.sub(lambda m: "".join(map(_escaped, m.group())), visible(text))


EMPTY_VALUE: Final = '""'  # the empty string shown as a value where no code span fences it


def unfenced_value(text: str) -> str:
    """`text` as a value shown without a fence around it (a chart label, report.html's quoted
    licences): `visible_value`, `"` as `\\u0022`; the empty string as `EMPTY_VALUE`."""
    return visible_value(text).replace('"', "\\u0022") if text else EMPTY_VALUE


def _escape_inline(text: str) -> str:
    """`text` (`visible` already) with Markdown's inline characters escaped and every word
    GFM would autolink in a code span (see the module's doc)."""
    if _LINK_MARK.search(text) is None:  # the common case (a mark never spans a break)
        return _SPECIAL.sub(r"\\\g<0>", text)
    out, end = [], 0
    for word in _WORD.finditer(text):
        if _LINK_MARK.search(text, word.start(), word.end()) is not None:
            out += (_SPECIAL.sub(r"\\\g<0>", text[end : word.start()]), f"`{word.group()}`")
            end = word.end()
    return "".join((*out, _SPECIAL.sub(r"\\\g<0>", text[end:])))


def md_text(value: Any, line_start: bool = False) -> Md:
    """`value` as Markdown inline text that renders as itself (`visible`). `line_start`: it
    begins a line (a paragraph, a heading's text), so block markers are escaped too."""
    text = _escape_inline(visible(str(value)))
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
        return Md(EMPTY_VALUE)  # as report.html and the charts show it (`unfenced_value`)
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
