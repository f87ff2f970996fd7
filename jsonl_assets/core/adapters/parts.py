"""Building blocks shared by the adapters.

* messages and content parts in the spec's key order (role, content, name, annotations;
  ``type`` first, then the payload keys);
* conversion of chat-style content (a string, ``None`` or a list of OpenAI or spec parts);
* field access that raises ``AdapterError`` with stable reason codes, including dotted paths
  (``"data.items.0.text"``);
* tool calls and results: argument parsing, result wrapping, call-id bookkeeping
  (toolsets are in ``toolsets.py``);
* JSON text held in a string field (``embedded_json``): parsed exactly as written, by the
  readers' checks, or refused.

Nothing here mutates its input. Dicts built here are new; values taken over from the input
unchanged (a spec-shaped part, a tool's JSON schema, parsed arguments) are shared, not copied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import orjson

from jsonl_assets.core.adapters.base import AdapterError
from jsonl_assets.core.adapters.unmapped import AUDIO_MIME, part_extras
from jsonl_assets.core.blank_text import JSON_WHITESPACE, is_blank
from jsonl_assets.core.field_paths import FieldPath
from jsonl_assets.core.readers.exact_json import DUPLICATE_KEY as INEXACT_KEY
from jsonl_assets.core.readers.exact_json import InexactJson, loads_exact
from jsonl_assets.core.rules.spec_vocabulary import PART_TYPES
from jsonl_assets.core.value_text import value_text

# Stable reason codes. Every AdapterError raised by an adapter uses one of these.
MISSING_FIELD: Final = "adapter:missing_field"
WRONG_TYPE: Final = "adapter:wrong_type"
UNKNOWN_ROLE: Final = "adapter:unknown_role"
UNSUPPORTED_CONTENT: Final = "adapter:unsupported_content"
BAD_ARGUMENTS_JSON: Final = "adapter:bad_arguments_json"
BAD_TOOLS: Final = "adapter:bad_tools"
UNMATCHED_TOOL_RESULT: Final = "adapter:unmatched_tool_result"
TRANSCRIPT_UNPARSEABLE: Final = "adapter:transcript_unparseable"
NO_DIFFERING_TURN: Final = "adapter:no_differing_turn"
NO_SHARED_CONTEXT: Final = "adapter:no_shared_context"
EMPTY_CANDIDATE: Final = "adapter:empty_candidate"
ANSWER_NOT_FOUND: Final = "adapter:answer_not_found"
NOT_NUMERIC: Final = "adapter:not_numeric"
EMPTY_TEXT: Final = "adapter:empty_text"
NO_INSTANCES: Final = "adapter:no_instances"
# Two fields of a record that each say what one piece of the record is (alpaca `output` and
# `instances`): mapping either would drop the other.
CONFLICTING_FIELDS: Final = "adapter:conflicting_fields"
# A value the adapter would have to write altered: a number no JSON value holds exactly (in
# JSON text held in a string, or a numeric answer), or JSON text whose object repeats a key.
UNSUPPORTED_VALUE: Final = "adapter:unsupported_value"
DUPLICATE_KEY: Final = "adapter:duplicate_key"
ANNOTATION_CONFLICT: Final = "adapter:annotation_conflict"
# Raised by the transformed stage: a `metadata_fields` value the record's metadata contradicts.
METADATA_CONFLICT: Final = "adapter:metadata_conflict"

REASON_CODES: Final = (
    MISSING_FIELD,
    WRONG_TYPE,
    UNKNOWN_ROLE,
    UNSUPPORTED_CONTENT,
    BAD_ARGUMENTS_JSON,
    BAD_TOOLS,
    UNMATCHED_TOOL_RESULT,
    TRANSCRIPT_UNPARSEABLE,
    NO_DIFFERING_TURN,
    NO_SHARED_CONTEXT,
    EMPTY_CANDIDATE,
    ANSWER_NOT_FOUND,
    NOT_NUMERIC,
    EMPTY_TEXT,
    NO_INSTANCES,
    CONFLICTING_FIELDS,
    UNSUPPORTED_VALUE,
    DUPLICATE_KEY,
    ANNOTATION_CONFLICT,
    METADATA_CONFLICT,
)


# --------------------------------------------------------------------------- type names


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for error details."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def wrong_type(where: str, expected: str, value: Any) -> AdapterError:
    return AdapterError(WRONG_TYPE, f"{where} must be {expected}, got {json_type(value)}")


def missing(where: str) -> AdapterError:
    return AdapterError(MISSING_FIELD, f"{where} is missing")


def tool_name(name: Any, where: str) -> str:
    """A tool's name, declared or called: a string with a visible character, as a config's
    `toolsets` require (`blank_text.is_blank`), so a toolset derived from records can be
    copied into a config."""
    if type(name) is not str:
        if name is None:
            raise missing(where)
        raise wrong_type(where, "a string", name)
    if is_blank(name):
        raise AdapterError(
            WRONG_TYPE,
            f"{where} must be a tool name with a visible character, got {value_text(name)}",
        )
    return name


# --------------------------------------------------------------------------- field access


def require_object(raw: Any, where: str = "record") -> dict[str, Any]:
    """``raw`` itself, when it is a JSON object."""
    if type(raw) is not dict:
        raise wrong_type(where, "an object", raw)
    return raw


def require_str(obj: Mapping[str, Any], key: str, where: str = "") -> str:
    """``obj[key]`` as a string; missing or null -> missing_field, other types -> wrong_type."""
    value = obj.get(key)
    if type(value) is str:
        return value
    label = f"{where}.{key}" if where else key
    if value is None:
        raise AdapterError(
            MISSING_FIELD, f"{label} is null" if key in obj else f"{label} is missing"
        )
    raise wrong_type(label, "a string", value)


def optional_str(obj: Mapping[str, Any], key: str | None, where: str = "") -> str | None:
    """``obj[key]`` as a string, or None when the key is unset, absent or null."""
    if key is None:
        return None
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    label = f"{where}.{key}" if where else key
    raise wrong_type(label, "a string", value)


def optional_text(obj: Mapping[str, Any], key: str | None, where: str = "") -> str | None:
    """An optional text field (a system prompt, an input, a context, a title): ``obj[key]``
    when it is a non-empty string, None when unset, absent, null or ``""`` (no text to keep);
    other types -> ``adapter:wrong_type``. Whitespace-only text is text: it is returned as
    given, never taken for absent, so no value the source gives vanishes."""
    return optional_str(obj, key, where) or None


def joined_text(first: str, extra: str | None) -> str:
    """``first``, then a blank line and ``extra`` when there is one (alpaca ``input``, Dolly
    ``context``): ``extra`` as given, whitespace-only too."""
    return f"{first}\n\n{extra}" if extra else first


def get_path(value: Any, path: FieldPath, label: str) -> Any:
    """The value at ``path`` inside ``value``.

    A missing key, an index past the end, or a step into a scalar raises
    ``adapter:missing_field`` naming ``label`` (the path as written) and the failing step.
    """
    current = value
    for depth, (key, index) in enumerate(path):
        if type(current) is dict:
            if key not in current:
                raise _path_missing(label, path, depth)
            current = current[key]
        elif type(current) is list and index is not None:
            if index >= len(current):
                raise _path_missing(label, path, depth)
            current = current[index]
        else:
            raise _path_missing(label, path, depth)
    return current


def _path_missing(label: str, path: FieldPath, depth: int) -> AdapterError:
    reached = ".".join(s for s, _ in path[:depth]) or "<record>"
    return AdapterError(
        MISSING_FIELD, f"field path {label!r}: no {path[depth][0]!r} under {reached}"
    )


# --------------------------------------------------------------------------- parts, messages


def json_part(data: Any) -> dict[str, Any]:
    return {"type": "json", "data": data}


def text_message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": [{"type": "text", "text": text}]}


def tool_call_part(name: str, call_id: str, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "name": name, "call_id": call_id, "arguments": arguments}


def tool_result_part(name: str, call_id: str, result: Any) -> dict[str, Any]:
    return {"type": "tool_result", "name": name, "call_id": call_id, "result": result}


def _data_uri_mime(uri: str) -> str | None:
    """The media type of a ``data:`` URI, e.g. ``image/png``; None for other URIs."""
    if not uri.startswith("data:"):
        return None
    head = uri[5 : uri.find(",")] if "," in uri else ""
    mime = head.split(";", 1)[0]
    return mime or None


def convert_part(part: Any, where: str) -> dict[str, Any]:
    """One OpenAI-style or spec content part as a spec part.

    OpenAI ``text`` / ``refusal`` -> text; ``image_url`` -> image with ``ref.uri`` (and
    ``mime_type`` for ``data:`` URIs); ``input_audio`` -> audio whose ``ref.uri`` is a
    ``data:`` URI holding the base64 payload (``part_extras`` holds the keys these leave
    out). Parts already in a spec shape (reasoning, json, media, tool_call, tool_result) are
    passed through for the validator to judge.
    """
    if type(part) is not dict:
        raise wrong_type(where, "an object", part)
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        if type(text) is not str:
            raise wrong_type(f"{where}.text", "a string", text)
        return {"type": "text", "text": text}
    if kind == "image_url":
        spec = part.get("image_url")
        url = spec.get("url") if type(spec) is dict else spec
        if type(url) is not str:
            raise wrong_type(f"{where}.image_url.url", "a string", url)
        out: dict[str, Any] = {"type": "image", "ref": {"uri": url}}
        mime = _data_uri_mime(url)
        if mime is not None:
            out["mime_type"] = mime
        return out
    if kind == "input_audio":
        spec = part.get("input_audio")
        if type(spec) is not dict:
            raise wrong_type(f"{where}.input_audio", "an object", spec)
        data = spec.get("data")
        fmt = spec.get("format")
        if type(data) is not str:
            raise wrong_type(f"{where}.input_audio.data", "a base64 string", data)
        mime = AUDIO_MIME.get(fmt) if type(fmt) is str else None
        if mime is None:
            raise AdapterError(
                UNSUPPORTED_CONTENT,
                f"{where}.input_audio.format {value_text(fmt)} is not one of {sorted(AUDIO_MIME)}",
            )
        return {"type": "audio", "ref": {"uri": f"data:{mime};base64,{data}"}, "mime_type": mime}
    if kind == "refusal":
        text = part.get("refusal")
        if type(text) is not str:
            raise wrong_type(f"{where}.refusal", "a string", text)
        return {"type": "text", "text": text}
    if type(kind) is str and kind in PART_TYPES:
        return part
    raise AdapterError(
        UNSUPPORTED_CONTENT, f"{where}.type {value_text(kind)} is not a known content part"
    )


def convert_content(
    content: Any, where: str, extras: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Chat content (string, null or list of parts) as a list of spec parts; `extras`, if
    given, gets each part's `part_extras` under the part's index in `content` ("0", "1"...)."""
    if type(content) is str:
        return [{"type": "text", "text": content}]
    if content is None:
        return []
    if type(content) is list:
        parts = [convert_part(p, f"{where}[{i}]") for i, p in enumerate(content)]
        if extras is not None:
            for i, p in enumerate(content):
                if (more := part_extras(p)) is not None:
                    extras[str(i)] = more
        return parts
    raise wrong_type(where, "a string, null or an array of parts", content)


def content_result(content: Any, where: str, extras: dict[str, Any] | None = None) -> Any:
    """A tool result from a tool message's chat content: a string, or a list of one text part,
    by ``result_value``; null as ``{"content": null}``; several text parts, or none (``[]``),
    as ``{"content": [the text parts]}``, so their boundaries are kept and null, ``""`` and
    ``[]`` stay three results. A part other than text -> ``adapter:unsupported_content``."""
    if type(content) is str:
        return result_value(content)
    if content is None:
        return {"content": None}
    parts = convert_content(content, where, extras)
    for part in parts:
        if part["type"] != "text":
            raise AdapterError(
                UNSUPPORTED_CONTENT,
                f"{where} holds a {value_text(part['type'])} part where text is needed",
            )
    if len(parts) != 1:
        return {"content": parts}
    return result_value(parts[0]["text"])


# --------------------------------------------------------------------------- JSON text


def embedded_json(text: str | bytes, where: str) -> Any:
    """The value of the JSON text a string field holds (``where`` names the field), exactly
    as written. Every adapter parses such text with this (or, with a lossless fallback of its
    own, with ``loads_exact`` directly).

    Text that is not JSON raises ``orjson.JSONDecodeError`` (each caller has its own code for
    it). JSON that no parsed value holds exactly raises ``adapter:unsupported_value`` (a number
    beyond 64 bits or a double, named with its path) or ``adapter:duplicate_key``: there is no
    lossless way to write it, so the record is quarantined rather than written altered.
    """
    try:
        return loads_exact(text)
    except InexactJson as exc:
        if exc.kind == INEXACT_KEY:
            raise AdapterError(DUPLICATE_KEY, f"{where} is JSON text in which {exc.why}") from None
        raise AdapterError(
            UNSUPPORTED_VALUE,
            f"{where} is JSON text that no parsed value holds as written ({exc.why}): the "
            "record is not written rather than altered",
        ) from None


# --------------------------------------------------------------------------- tool use


def parse_arguments(arguments: Any, where: str) -> Any:
    """Tool-call arguments: a JSON string is parsed exactly (``embedded_json``; '' or only
    JSON whitespace -> {}: no value; any other text must be JSON), other JSON values kept."""
    if type(arguments) is str:
        if not arguments.strip(JSON_WHITESPACE):
            return {}
        try:
            return embedded_json(arguments, where)
        except orjson.JSONDecodeError as exc:
            raise AdapterError(
                BAD_ARGUMENTS_JSON,
                f"{where} is not valid JSON ({exc}): {value_text(arguments, 200)}",
            ) from None
    if arguments is None:
        return {}
    return arguments


def result_value(text: str) -> Any:
    """A tool result from its text: the object when the text is a JSON object parsed exactly
    (``loads_exact``), else ``{"content": text}`` -- also for an object no parsed value holds
    exactly (a number beyond 64 bits or a double, a repeated key): the text is kept as is."""
    if text[:1] == "{" or text.lstrip(JSON_WHITESPACE)[:1] == "{":
        try:
            value = loads_exact(text)
        except (orjson.JSONDecodeError, InexactJson):
            return {"content": text}
        if type(value) is dict:
            return value
    return {"content": text}


class CallTracker:
    """Tool calls seen so far in one record: names by call id, and the unanswered ones.

    Call ids missing from the source are synthesised as ``call_<n>`` (n = 1-based count of
    calls in the record), so the same input always gets the same ids. An id some call of the
    record has in the source (``source_ids``, asked for the first time an id is needed: any
    message, earlier or later) or that is taken already is never made up: ``call_<n>_<k>``
    with the lowest free ``k`` (1, 2, ...) replaces it.
    """

    __slots__ = ("_names", "_pending", "_reserved", "_source_ids", "count")

    def __init__(self, source_ids: Callable[[], Iterable[str]] | None = None) -> None:
        self._names: dict[str, str] = {}
        self._pending: list[str] = []
        self._source_ids = source_ids
        self._reserved: frozenset[str] | None = None
        self.count = 0

    def fork(self) -> CallTracker:
        other = CallTracker(self._source_ids)
        other._reserved = self._reserved
        other._names = dict(self._names)
        other._pending = list(self._pending)
        other.count = self.count
        return other

    def call(self, name: str, call_id: str | None) -> str:
        self.count += 1
        if call_id is None:
            call_id = self._free_id()
        self._names[call_id] = name
        self._pending.append(call_id)
        return call_id

    def _free_id(self) -> str:
        if self._reserved is None:
            self._reserved = frozenset(self._source_ids() if self._source_ids else ())
        taken = self._reserved
        call_id = f"call_{self.count}"
        k = 0
        while call_id in taken or call_id in self._names:
            k += 1
            call_id = f"call_{self.count}_{k}"
        return call_id

    def answer(self, call_id: str | None, name: str | None, where: str) -> tuple[str, str]:
        """``(call_id, name)`` of the call a result answers.

        With a call id: that call (any earlier call). Without: the oldest unanswered call
        (with that name, when a name is given).
        """
        if call_id is not None:
            known = self._names.get(call_id)
            if known is None:
                raise AdapterError(
                    UNMATCHED_TOOL_RESULT,
                    f"{where} answers call id {value_text(call_id)}, but no earlier tool call has it",
                )
            if call_id in self._pending:
                self._pending.remove(call_id)
            return call_id, known
        for i, pending in enumerate(self._pending):
            if name is None or self._names[pending] == name:
                del self._pending[i]
                return pending, self._names[pending]
        wanted = f" to {value_text(name)}" if name is not None else ""
        raise AdapterError(
            UNMATCHED_TOOL_RESULT, f"{where} is a tool result with no unanswered call{wanted}"
        )

    def called_names(self) -> list[str]:
        """The distinct tool names called, sorted."""
        return sorted(set(self._names.values()))


def record_metadata(raw: Mapping[str, Any], key: str = "metadata") -> dict[str, Any] | None:
    """A raw record's own ``metadata`` object, for ``Adapted.metadata``.

    Only an object is carried over: in a non-spec shape a ``metadata`` key holding anything
    else is just another source field (a source's ``metadata_fields`` can keep it).
    """
    meta = raw.get(key)
    return meta if type(meta) is dict else None
