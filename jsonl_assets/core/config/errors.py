"""`ConfigError`: a config problem naming the file and the dotted key."""

from __future__ import annotations

from pathlib import Path


class ConfigError(Exception):
    """A config problem: `file`, dotted `key`, and what is wrong."""

    def __init__(self, file: Path | str, key: str, message: str) -> None:
        self.file = str(file)
        self.key = key
        self.message = message
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {message}")
