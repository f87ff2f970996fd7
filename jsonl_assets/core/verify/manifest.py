"""metadata.json itself: A1-A12 and A15 (A13/A14 need the toolsets: `defaults`).

metadata.json larger than `max_metadata_bytes`, or not a regular file inside the package,
is A1; so is an object that repeats a key, as the build's readers refuse it in records. A
number orjson does not read with its value (an integer beyond 64 bits, `1e400`) is valid JSON:
an A1 warning, and the manifest is checked as `exact_values.read_exact` reads it, so the
findings show the number as written and its type is kept (a big integer is an integer). A15
is `defaults.reasoning_policy` (verify/defaults.py): one check with the config's at load.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import orjson

from jsonl_assets.core.blank_text import is_blank
from jsonl_assets.core.readers.duplicate_keys import repeated_key
from jsonl_assets.core.rules.spec_vocabulary import SCHEMA_VERSION
from jsonl_assets.core.rules.vocabulary import is_iso_datetime
from jsonl_assets.core.verify.defaults import reasoning_policy
from jsonl_assets.core.verify.exact_values import INEXACT_NOTE, NumberTooLong, read_exact
from jsonl_assets.core.verify.report import METADATA_FILE, Sink, jtype, not_json, show
from jsonl_assets.core.verify.verify_limits import Unreadable, VerifyLimits, read_capped

_TOP_KEYS: Final = frozenset(
    {
        "schema_version",
        "dataset",
        "files",
        "data_card",
        "defaults",
        "toolsets",
        "asset_index",
        "extensions",
    }
)
_TOP_OBJECTS: Final = ("data_card", "defaults", "asset_index", "extensions")
_DATASET_STRINGS: Final = ("dataset_id", "description", "created_at", "license", "contact")
_DATASET_KEYS: Final = frozenset({"name", "tags", *_DATASET_STRINGS})
_DEFAULTS_KEYS: Final = frozenset({"system", "toolset_id", "reasoning_policy"})
_DATA_CARD_KEYS: Final = frozenset({"uri", "sha256", "inline"})
_ASSET_INDEX_KEYS: Final = frozenset({"path", "format"})


def load_manifest(
    path: Path, root: Path | None, limits: VerifyLimits, sink: Sink
) -> dict[str, Any] | None:
    try:
        data = read_capped(path, root, limits.max_metadata_bytes)
    except Unreadable as exc:
        message = f"metadata.json {exc.reason}"
        if exc.kind == "too_large":
            message += " (--max-metadata-bytes)"
        sink.error("A1", METADATA_FILE, None, message)
        return None
    try:
        parsed = read_exact(data)
    except (orjson.JSONDecodeError, RecursionError) as exc:
        sink.error(
            "A1", METADATA_FILE, None, f"metadata.json is not valid JSON: {not_json(data, exc)}"
        )
        return None
    except NumberTooLong as exc:
        sink.error("A1", METADATA_FILE, None, f"metadata.json: {exc}")
        return None
    meta = parsed.value
    if type(meta) is not dict:
        sink.error("A1", METADATA_FILE, None, f"root must be an object, got {jtype(meta)}")
        return None
    key = repeated_key(data, meta)
    if key is not None:
        sink.error(
            "A1",
            METADATA_FILE,
            None,
            f"an object repeats the key {show(key)}: readers keep different ones of its values "
            "(orjson, and this check, the last)",
        )
    if parsed.inexact is not None:
        sink.warning("A1", METADATA_FILE, None, f"{parsed.inexact}: {INEXACT_NOTE}")
    return meta


def check_manifest(meta: dict[str, Any], sink: Sink) -> None:
    """A2-A12 and A15 (A13/A14 need the toolsets; see `defaults`)."""
    err = sink.meta_error
    warn = sink.meta_warning
    version = meta.get("schema_version")
    if "schema_version" not in meta:
        err("A2", "schema_version: missing")
    elif version != SCHEMA_VERSION:
        err("A2", f"schema_version: {show(version)} is not {show(SCHEMA_VERSION)}")
    for key in meta:
        if key not in _TOP_KEYS:
            err("A7", f"{key}: unknown top-level key (custom data belongs in 'extensions')")
    for key in _TOP_OBJECTS:
        if key in meta and type(meta[key]) is not dict:
            err("A8", f"{key}: must be an object, got {jtype(meta[key])}")
    if "toolsets" in meta and type(meta["toolsets"]) is not list:
        err("A8", f"toolsets: must be an array, got {jtype(meta['toolsets'])}")

    dataset = meta.get("dataset")
    if "dataset" not in meta:
        err("A3", "dataset: missing")
    elif type(dataset) is not dict:
        err("A3", f"dataset: must be an object, got {jtype(dataset)}")
    else:
        name = dataset.get("name")
        if "name" not in dataset:
            err("A4", "dataset.name: missing")
        elif type(name) is not str:
            err("A4", f"dataset.name: must be a string, got {jtype(name)}")
        elif is_blank(name):
            err("A4", f"dataset.name: is blank (no visible character): {show(name)}")
        for key in _DATASET_STRINGS:
            if key in dataset and type(dataset[key]) is not str:
                err("A9", f"dataset.{key}: must be a string, got {jtype(dataset[key])}")
        tags = dataset.get("tags")
        if "tags" in dataset and (
            type(tags) is not list or any(type(tag) is not str for tag in tags)
        ):
            err("A9", "dataset.tags: must be an array of strings")
        created = dataset.get("created_at")
        if type(created) is str and not is_iso_datetime(created):
            warn("A10", f"dataset.created_at: {show(created)} is not an ISO-8601 date-time")
        _unknown_keys(dataset, _DATASET_KEYS, "dataset", warn)

    files = meta.get("files")
    if "files" not in meta:
        err("A5", "files: missing")
    elif type(files) is not list:
        err("A5", f"files: must be an array, got {jtype(files)}")
    elif not files:
        err("A6", "files: has no entries")

    card = meta.get("data_card")
    if type(card) is dict:
        inline = card.get("inline") is True
        if not inline and type(card.get("uri")) is not str:
            err("A12", "data_card: needs a string 'uri' or 'inline': true")
        if "sha256" in card and type(card["sha256"]) is not str:
            err("A12", f"data_card.sha256: must be a string, got {jtype(card['sha256'])}")
        if not inline:  # an embedded card carries the Data Card's own sections
            _unknown_keys(card, _DATA_CARD_KEYS, "data_card", warn)

    defaults = meta.get("defaults")
    if type(defaults) is dict:
        _unknown_keys(defaults, _DEFAULTS_KEYS, "defaults", warn)
        reasoning_policy(  # A15: one check with the config's (`defaults` at load)
            defaults,
            lambda rule, severity, message: sink.add(rule, severity, METADATA_FILE, None, message),
        )
    index = meta.get("asset_index")
    if type(index) is dict:
        _unknown_keys(index, _ASSET_INDEX_KEYS, "asset_index", warn)


def _unknown_keys(
    obj: dict[str, Any], known: frozenset[str], where: str, warn: Callable[[str, str], None]
) -> None:
    for key in obj:
        if key not in known:
            warn("A11", f"{where}.{key}: unknown key")
