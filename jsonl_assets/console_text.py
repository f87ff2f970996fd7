"""Text for the console: control characters escaped (`printable`), and characters the console's
encoding lacks shown as escapes (`escape_what_the_console_cannot_show`)."""

from __future__ import annotations

import io
import sys


def printable(text: str, limit: int = 2000) -> str:
    """`text` with control characters (newlines, escape sequences) shown as escapes, and
    shortened to about `limit` characters (a hostile path may be 100 KB long)."""
    if len(text) > limit:
        text = f"{text[: limit // 2]}...({len(text) - limit} characters)...{text[-limit // 2 :]}"
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def escape_what_the_console_cannot_show() -> None:
    """A console whose encoding lacks a character (a Latin-1 locale, a dataset named in
    Chinese) shows it as an escape instead of stopping the command."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
