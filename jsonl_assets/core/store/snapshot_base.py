"""The metadata.json version a build replaces, read when the build first touches the package.

`remember_base` records the published metadata.json's version tag (its ETag on object storage;
`ABSENT` before the first publish) in `<work_dir>/manifest/base.json` when a build's shards
stage starts, unless a build in this work dir recorded one already and has not published yet
(a killed build resumes with its own base). The publish then replaces only that version
(If-Match / If-None-Match: *): a build that another publisher overtook meanwhile publishes
nothing. The record is dropped after each publish attempt, won or lost.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

import orjson

from jsonl_assets.core.file_names import shown
from jsonl_assets.core.store.base import ABSENT, read_bytes, store_for, write_bytes

if TYPE_CHECKING:
    from jsonl_assets.core.config import PipelineConfig

BASE_FILE: Final = "base.json"
MANIFEST_FILE: Final = "metadata.json"


def base_path(cfg: PipelineConfig) -> Path:
    return cfg.output.work_dir / "manifest" / BASE_FILE


def manifest_path(cfg: PipelineConfig) -> str:
    """The package's metadata.json, as a path or URL string."""
    return f"{os.fspath(cfg.output.dir).rstrip('/')}/{MANIFEST_FILE}"


def current_tag(cfg: PipelineConfig) -> str:
    """The version tag of the metadata.json published now (`ABSENT` if there is none)."""
    path = manifest_path(cfg)
    st = store_for(path).stat(path)
    return ABSENT if st is None else st.tag


def recorded_base(cfg: PipelineConfig) -> str | None:
    """The version this build started from, or None if no build of this work dir recorded one
    for this package."""
    try:
        doc = orjson.loads(read_bytes(base_path(cfg)))
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    if not isinstance(doc, dict) or doc.get("package") != shown(os.fspath(cfg.output.dir)):
        return None
    tag = doc.get("tag")
    return tag if isinstance(tag, str) else None


def remember_base(cfg: PipelineConfig) -> str:
    """Record (once per build) the version of metadata.json this build will replace."""
    tag = recorded_base(cfg)
    if tag is None:
        tag = current_tag(cfg)
        doc = {"package": shown(os.fspath(cfg.output.dir)), "tag": tag}
        try:
            write_bytes(base_path(cfg), orjson.dumps(doc))
        except OSError:  # another partition of this build wrote it at the same moment
            if recorded_base(cfg) is None:
                raise
    return tag


def forget_base(cfg: PipelineConfig) -> None:
    with contextlib.suppress(OSError):
        store_for(base_path(cfg)).remove(base_path(cfg))
