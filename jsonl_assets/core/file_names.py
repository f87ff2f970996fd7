"""File names, the same whatever the locale.

One model: a file name is the bytes on disk. A path or glob of the config is UTF-8 text, so
its bytes are its UTF-8 encoding (`os_path` turns it, once, into the `str` the OS functions
take). A name written to an output is those bytes decoded as UTF-8; a name whose bytes are
not UTF-8 is shown with each invalid byte as `\\xNN`, and `file_b64` holds the base64 of its
bytes (`file_name`). Where files are told apart by name (a stage's fingerprint, a manifest's
`source_files`, a partition's version, the sensor's snapshot) the key is `file_key`: a shown
name alone may be two files' (`bad<0xFF>` and the literal text `bad\\xff`). Reading, stat
and globbing use the OS-level `str` (`os.fsdecode` of the bytes): the locale's file system
encoding decides only how Python spells the bytes inside the process, never which file a
config names nor how an output names it.
"""

from __future__ import annotations

import base64
import os


def os_path(text: str) -> str:
    """A config path or glob (UTF-8 text) as the OS-level `str` naming its UTF-8 bytes.

    A surrogate escape (`\\udc80`-`\\udcff`, as `os.fsdecode` writes a byte that is not UTF-8)
    stands for that byte. Raises UnicodeEncodeError for any other lone surrogate (no bytes
    stand for it)."""
    return os.fsdecode(text.encode("utf-8", "surrogateescape"))


def file_name(name: str) -> tuple[str, str | None]:
    """An OS-level name (as `os` functions give it) as outputs show it, and its `file_b64`.

    A name whose bytes are valid UTF-8 is shown as it is, with no `file_b64`. A name whose
    bytes are not is shown with each invalid byte as `\\xNN`, and `file_b64` holds the base64
    of the name's bytes: lossless, and never ambiguous, since only such names carry it.
    """
    raw = os.fsencode(name)
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace"), base64.b64encode(raw).decode("ascii")


def shown(name: str) -> str:
    """An OS-level path as messages and reports show it (`file_name`'s text)."""
    return file_name(name)[0]


# Starts the key of a name that is not UTF-8 or that holds a NUL (an object's key may).
KEY_ESCAPE = "\0"


def file_key(text: str, b64: str | None) -> str:
    """One string per file that tells any two apart, from its name as outputs show it
    (`file_name`'s text and `file_b64`): the text itself for a UTF-8 name without a NUL (so
    keys of ordinary names are their names), else a NUL and the base64 of the name's bytes.
    A key starting with a NUL is always the second form, so keys never collide and always
    decode (`os_name_of_key`). JSON-safe: never a lone surrogate."""
    if b64 is None and KEY_ESCAPE not in text:
        return text
    raw = b64 if b64 is not None else base64.b64encode(text.encode("utf-8")).decode("ascii")
    return f"{KEY_ESCAPE}{raw}"


def os_name_key(name: str) -> str:
    """`file_key` of an OS-level name or path (as `os` functions give it): a JSON key for it."""
    return file_key(*file_name(name))


def os_name_of_key(key: str) -> str:
    """The OS-level name or path whose `os_name_key` is `key` (its inverse)."""
    if key.startswith(KEY_ESCAPE):
        return os.fsdecode(base64.b64decode(key[len(KEY_ESCAPE) :], validate=True))
    return os_path(key)


def key_text(key: str) -> str:
    """The shown name of a `file_key`."""
    return shown(os_name_of_key(key)) if key.startswith(KEY_ESCAPE) else key
