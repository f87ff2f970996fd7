"""`native`: records that are already in the spec's shape (any objective).

The record passes through as it is, with three changes:

* ``id`` is dropped — ids come from the pipeline's id configuration;
* ``metadata`` moves to ``Adapted.metadata`` (the stage merges it with the trace);
* a message whose ``content`` is a plain string (also inside preference candidates) gets
  ``[{"type": "text", "text": s}]`` instead — a common near-miss of the spec shape.

Every other key and value is kept untouched, unknown keys included: the validator rejects
them with a spec reason rather than this adapter dropping them silently (the transformed
stage moves those the source's `metadata_fields` names into the record's metadata). This is a hot path,
so it copies only the dicts it changes (shallow) and does no per-message work beyond a type
check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonl_assets.core.adapters.base import Adapted, AdapterOptions, AdaptFn
from jsonl_assets.core.adapters.parts import (
    wrong_type,
)


def _promote(messages: list[Any]) -> list[Any]:
    """``messages`` with string contents wrapped in a text part; the same list when none is."""
    for msg in messages:
        if type(msg) is dict and type(msg.get("content")) is str:
            break
    else:
        return messages
    out: list[Any] = []
    for msg in messages:
        if type(msg) is dict and type(msg.get("content")) is str:
            msg = {**msg, "content": [{"type": "text", "text": msg["content"]}]}
        out.append(msg)
    return out


def _promote_candidates(candidates: list[Any]) -> list[Any]:
    out: list[Any] | None = None
    for i, cand in enumerate(candidates):
        new = cand
        if type(cand) is dict:
            msgs = cand.get("messages")
            if type(msgs) is list:
                promoted = _promote(msgs)
                if promoted is not msgs:
                    new = {**cand, "messages": promoted}
        if new is not cand and out is None:
            out = candidates[:i]
        if out is not None:
            out.append(new)
    return candidates if out is None else out


def adapt_native(raw: Any) -> list[Adapted]:
    if type(raw) is not dict:
        raise wrong_type("record", "an object", raw)
    record = raw.copy()
    record.pop("id", None)
    meta = record.pop("metadata", None)
    if meta is not None and type(meta) is not dict:
        raise wrong_type("metadata", "an object", meta)
    msgs = record.get("messages")
    if type(msgs) is list:
        record["messages"] = _promote(msgs)
    cands = record.get("candidates")
    if type(cands) is list:
        record["candidates"] = _promote_candidates(cands)
    return [Adapted(record, None, "", meta)]


class Options(AdapterOptions):
    """`native` takes no options."""


def build(options: Mapping[str, Any]) -> AdaptFn:
    return adapt_native
