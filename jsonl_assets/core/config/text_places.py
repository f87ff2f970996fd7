"""Where in the config file a problem found before YAML parsing sits, by line and column.

PyYAML's reader refuses a character YAML does not allow (a control character) with an offset in
the whole text (`yaml.reader.ReaderError.position`: a character index from the pure-Python
reader, a UTF-8 byte index from libyaml, which is fed the text as UTF-8); a file that is not
UTF-8 fails to decode at a byte offset. Both are turned into the `line L, column C` (1-based,
columns in characters, lines broken as YAML breaks them) every other YAML error gives.
"""

from __future__ import annotations

import re
from typing import Final

import yaml

# YAML's line breaks (1.1 and 1.2 readers alike): CRLF counts once.
_BREAK: Final = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def place(prefix: str) -> str:
    """`line L, column C` of the character right after `prefix` (the text before it). A
    byte-order mark that starts the text is no column, as for YAML's own marks."""
    prefix = prefix.removeprefix("\ufeff")
    line = 1
    start = 0
    for match in _BREAK.finditer(prefix):
        line += 1
        start = match.end()
    return f"line {line}, column {len(prefix) - start + 1}"


def reader_message(exc: yaml.reader.ReaderError, text: str) -> str:
    """A reader error of `text` as `line L, column C: <reason>: <the character>`."""
    if exc.encoding == "unicode":  # PyYAML's own reader: a character index
        prefix = text[: exc.position]
    else:  # libyaml: a byte index in the UTF-8 text
        prefix = text.encode("utf-8", "surrogatepass")[: exc.position].decode("utf-8", "replace")
    what = f"character U+{exc.character:04X}" if isinstance(exc.character, int) else "character"
    return f"{place(prefix)}: {what}: {exc.reason}"


def decode_message(data: bytes, exc: UnicodeDecodeError) -> str:
    """A file `data` that is not UTF-8 as `line L, column C: ...` of its first bad byte."""
    prefix = data[: exc.start].decode("utf-8", "replace")
    return (
        f"{place(prefix)}: not UTF-8 text (byte 0x{data[exc.start]:02x}: {exc.reason}); "
        "save the config as UTF-8"
    )
