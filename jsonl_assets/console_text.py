"""Text for the console: control characters escaped (`printable`), and characters the console's
encoding lacks shown as escapes (`escape_what_the_console_cannot_show`)."""

from __future__ import annotations

import io
import sys

from jsonl_assets.core.report.markdown_text import visible


def printable(text: object, limit: int = 2000) -> str:
    """`text` with every character that shows nothing of itself (controls such as a newline
    or an escape sequence, format characters such as U+202E, line and paragraph separators)
    shown as an escape, the one way the Markdown layer writes them (`markdown_text.visible`),
    so a file name, id or message cannot forge an output line; shortened to about `limit`
    characters (a hostile path may be 100 KB long)."""
    text = str(text)
    if len(text) > limit:
        text = f"{text[: limit // 2]}...({len(text) - limit} characters)...{text[-limit // 2 :]}"
    return visible(text)


def escape_what_the_console_cannot_show() -> None:
    """A console whose encoding lacks a character (a Latin-1 locale, a dataset named in
    Chinese) shows it as an escape instead of stopping the command."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
