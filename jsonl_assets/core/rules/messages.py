"""D9-D21: the walk over messages and their content parts, the hot loop of every build.

Each check is a type test, a membership test or a length test; a key-by-key scan runs only
when the quick test shows a key set other than the usual one. Nothing is formatted unless
a finding is reported (see walk_state.Walk.report).
"""

from __future__ import annotations

from typing import Any

from jsonl_assets.core.rules.context import RecordContext
from jsonl_assets.core.rules.spec_vocabulary import ROLES
from jsonl_assets.core.rules.tools import tool_part
from jsonl_assets.core.rules.vocabulary import (
    ABSENT,
    MEDIA_PART_TYPES,
    MESSAGE_KEYS,
    PART_KEYS,
    REF_KEYS,
    is_count,
    json_type_name,
    short,
)
from jsonl_assets.core.rules.walk_state import ASSISTANT, CONTENT, DOCUMENT, Loc, Plan, Walk

assert {"system", "user", "assistant", "document", "tool"} == ROLES  # the role branches below


def walk_messages(
    w: Walk | None, plan: Plan, ctx: RecordContext, messages: list[Any], prefix: str | int
) -> tuple[int, Walk | None]:
    """Judge `messages` at path `prefix` ("messages", or candidate k's messages: k); return
    the ASSISTANT / DOCUMENT roles seen, and the walk.

    `w` is None while the record has needed no walk (nothing reported, no tool state); the
    walk made at the first message that needs one is returned.
    """
    flags = 0
    dialogue_only = plan.dialogue_only
    document_warns = plan.document_warns
    i = -1
    for message in messages:
        i += 1
        # A quiet message, on which _message would report nothing: exactly the keys {role,
        # content}, a role this plan has nothing to say about. Its plain parts are passed
        # over and its tool parts (allowed keys) go to tool_part, as in walk_parts.
        if type(message) is dict and len(message) == 2:
            content = message.get("content")
            if type(content) is list and content:
                role = message.get("role")
                if role == "user" or role == "system":
                    quiet = True
                elif role == "assistant":
                    flags |= ASSISTANT
                    quiet = not dialogue_only
                elif role == "document":
                    flags |= DOCUMENT
                    quiet = not document_warns
                else:
                    quiet = role == "tool" and not dialogue_only
                if quiet:
                    j = -1
                    for part in content:
                        j += 1
                        if type(part) is dict:
                            kind = part.get("type")
                            if len(part) == 2:
                                if kind == "text" or kind == "reasoning":
                                    if type(part.get("text")) is str:
                                        continue
                                elif kind == "json":
                                    if "data" in part:
                                        continue
                                elif _plain_media(kind, part.get("ref"), ctx.asset_ids):
                                    continue
                            if (kind == "tool_call" or kind == "tool_result") and (
                                part.keys() <= PART_KEYS[kind]
                            ):
                                if w is None:
                                    w = Walk(plan, ctx)
                                tool_part(w, part, kind, (prefix, i, j), role)
                                continue
                        break
                    else:
                        continue
                    if w is None:
                        w = Walk(plan, ctx)
                    # the parts before j are judged: _message walks from part j on
                    flags |= _message(w, message, prefix, i, j)
                    continue
        if w is None:
            w = Walk(plan, ctx)
        flags |= _message(w, message, prefix, i)
    return flags, w


def _message(w: Walk, message: object, prefix: str | int, i: int, start: int = 0) -> int:
    """D9-D21 for message `i`, its parts from `start` on; return its ASSISTANT / DOCUMENT
    flag. `start` > 0 only for a quiet message (walk_messages judged the parts before it)."""
    flags = 0
    plan = w.plan
    dialogue_only = plan.dialogue_only  # cpt: no assistant or tool turns
    document_warns = plan.document_warns
    if type(message) is not dict:
        w.report("D9.type", (prefix, i, -1), json_type_name(message))
        return 0
    role = message.get("role")
    content = message.get("content")
    # Keys besides role and content are looked at here when there are more than two. A
    # two-key message without role or content is looked at before its first finding.
    other_keys = len(message) != 2
    if other_keys:
        _unknown_keys(w, message, (prefix, i, -1))
    if role == "assistant":
        flags |= ASSISTANT
        if dialogue_only:
            other_keys = other_keys or _unknown_keys(w, message, (prefix, i, -1))
            w.report("F11.role", (prefix, i, -1), repr(role))
    elif role == "user" or role == "system":
        pass
    elif role == "document":
        flags |= DOCUMENT
        if document_warns:
            other_keys = other_keys or _unknown_keys(w, message, (prefix, i, -1))
            w.report("D21.document", (prefix, i, -1), plan.objective)
    elif role == "tool":
        if dialogue_only:
            other_keys = other_keys or _unknown_keys(w, message, (prefix, i, -1))
            w.report("F11.role", (prefix, i, -1), repr(role))
    else:
        other_keys = other_keys or _unknown_keys(w, message, (prefix, i, -1))
        if "role" not in message:
            w.report("D9.role", (prefix, i, -1))
        else:
            w.report("D10.role", (prefix, i, -1), short(role))
        role = None
    if other_keys:
        _name_and_annotations(w, message, (prefix, i, -1))
    if type(content) is not list:
        if "content" not in message:
            if not other_keys:
                _unknown_keys(w, message, (prefix, i, -1))
                _name_and_annotations(w, message, (prefix, i, -1))
            w.report("D9.content", (prefix, i, -1))
        else:
            w.report("D11.type", (prefix, i, CONTENT), json_type_name(content))
    elif not content:
        w.report("D12.empty", (prefix, i, CONTENT))
    else:
        walk_parts(w, content, start, prefix, i, role)
    return flags


def _unknown_keys(w: Walk, message: dict[str, Any], loc: Loc) -> bool:
    """D9 for keys a message may not have; True (the message's other keys are judged)."""
    if not message.keys() <= MESSAGE_KEYS:
        for key in message:
            if key not in MESSAGE_KEYS:
                w.report("D9.key", loc, short(key))
    return True


def _name_and_annotations(w: Walk, message: dict[str, Any], loc: Loc) -> None:
    name = message.get("name", ABSENT)
    if name is not ABSENT and type(name) is not str:
        w.report("D13.name", loc, json_type_name(name))
    annotations = message.get("annotations", ABSENT)
    if annotations is not ABSENT and type(annotations) is not dict:
        w.report("D13.annotations", loc, json_type_name(annotations))


def walk_parts(
    w: Walk, parts: list[Any], start: int, prefix: str | int, i: int, role: str | None
) -> None:
    """D14-D20 for `parts[start:]`, the content of message `i` (i < 0: `prefix` is the content
    array itself). Plain parts are passed over by walk_messages' guard, not here: this runs
    only for the rare message that guard does not pass, and for `defaults.system`."""
    for j in range(start, len(parts)):
        _walk_part(w, parts[j], (prefix, i, j), role)


def _plain_media(kind: object, ref: object, asset_ids: frozenset[str] | None) -> bool:
    """A media part {type, ref} on which _media reports nothing: its ref is exactly a string
    `uri`, or exactly an `asset_id` the asset index holds."""
    if (
        type(ref) is not dict
        or len(ref) != 1
        or not (kind == "image" or kind == "audio" or kind == "video" or kind == "document")
    ):
        return False
    uri = ref.get("uri")
    if uri is not None:
        return type(uri) is str
    asset_id = ref.get("asset_id")
    return type(asset_id) is str and asset_ids is not None and asset_id in asset_ids


def _walk_part(w: Walk, part: object, loc: Loc, role: str | None) -> None:
    if type(part) is not dict:
        w.report("D14.type", loc, json_type_name(part))
        return
    kind = part.get("type", ABSENT)
    if type(kind) is not str or kind not in PART_KEYS:
        if kind is ABSENT:
            w.report("D14.missing", loc)
        else:
            w.report("D14.unknown", loc, short(kind))
        return
    if not part.keys() <= PART_KEYS[kind]:
        _keys(w, part, kind, loc)
    if kind == "text" or kind == "reasoning":
        w.require(part, "text", str, kind, loc)
    elif kind == "json":
        if "data" not in part:
            w.report("D15.missing", loc, repr(kind), repr("data"))
    elif kind in MEDIA_PART_TYPES:
        _media(w, part, kind, loc)
    else:
        tool_part(w, part, kind, loc, role)


def _keys(w: Walk, part: dict[str, Any], kind: str, loc: Loc) -> None:
    allowed = PART_KEYS[kind]
    for key in part:
        if key not in allowed:
            w.report("D16.key", loc, short(key), repr(kind))


def _media(w: Walk, part: dict[str, Any], kind: str, loc: Loc) -> None:
    """D17-D20: an image, audio, video or document part."""
    other_keys = len(part) != 2 or "ref" not in part
    if w.require(part, "ref", dict, kind, loc):
        ref = part["ref"]
        if not ref.keys() <= REF_KEYS:
            for key in ref:
                if key not in REF_KEYS:
                    w.report("D17.key", loc, short(key))
        asset_id = ref.get("asset_id", ABSENT)
        uri = ref.get("uri", ABSENT)
        if asset_id is ABSENT and uri is ABSENT:
            w.report("D17.none", loc)
        if uri is not ABSENT and type(uri) is not str:
            w.report("D17.uri", loc, json_type_name(uri))
        if asset_id is not ABSENT:
            asset_ids = w.ctx.asset_ids
            if type(asset_id) is not str:
                w.report("D17.asset_id", loc, json_type_name(asset_id))
            elif asset_ids is None:
                w.report("D20.no_index", loc, short(asset_id))
            elif asset_id not in asset_ids:
                w.report("D19.asset", loc, short(asset_id))
            if uri is not ABSENT:
                w.report("D17.both", loc)
    if other_keys:
        size = part.get("bytes", 0)
        if not is_count(size):
            w.report("D18.bytes", loc, short(size))
        for key in ("sha256", "mime_type"):
            value = part.get(key, "")
            if type(value) is not str:
                w.report("D18.string", loc, key, json_type_name(value))
