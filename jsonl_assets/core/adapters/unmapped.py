"""What a source object says beyond the keys an adapter maps, by one rule everywhere.

The rule (messages, content parts, tool calls, alpaca instances): a key whose value is null
says nothing, as if it were absent (OpenAI exports write ``"refusal": null``,
``"tool_calls": null``); every other value is kept, ``[]``, ``{}``, ``""``, ``0`` and
``false`` included (a key present with an empty value is information).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final


def says_something(value: Any) -> bool:
    """Whether a key holding `value` is kept: every value but null (see the module's rule)."""
    return value is not None


def unmapped_keys(
    obj: Mapping[str, Any],
    mapped: frozenset[str],
    inner: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, Any] | None:
    """The keys of ``obj`` an adapter does not map, in ``obj``'s shape and order (null values
    say nothing): keys not in ``mapped``, and for a key of ``inner`` whose value is an object,
    that object's keys not in ``inner[key]``, under that key. None when there are none."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if not says_something(value):
            continue
        if key not in mapped:
            out[key] = value
        elif (
            inner
            and key in inner
            and type(value) is dict
            and (rest := unmapped_keys(value, inner[key]))
        ):
            out[key] = rest
    return out or None


# An OpenAI `input_audio.format` and the media type its audio part is written with. Two formats
# share `audio/ogg`: the part keeps `format` in its extras unless it is the one format its
# media type names (`AUDIO_FORMAT`), so "opus" is never read back as "ogg".
AUDIO_MIME: Final = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "webm": "audio/webm",
}
AUDIO_FORMAT: Final = {mime: fmt for fmt, mime in reversed(AUDIO_MIME.items())}

# The keys each OpenAI-style part type maps (and, for its object, the keys mapped in it).
_MAPPED_PART_KEYS: Final = {
    "text": (frozenset({"type", "text"}), None),
    "refusal": (frozenset({"type", "refusal"}), None),
    "image_url": (frozenset({"type", "image_url"}), ("image_url", frozenset({"url"}))),
    "input_audio": (frozenset({"type", "input_audio"}), ("input_audio", frozenset({"data"}))),
}


def part_extras(part: dict[str, Any]) -> dict[str, Any] | None:
    """What a converted OpenAI-style part says beyond what the spec part holds (e.g.
    ``cache_control``, ``image_url.detail``, ``input_audio.format``), in the part's shape (its
    own keys first, then those of its object); None when nothing."""
    mapped = _MAPPED_PART_KEYS.get(part.get("type"))  # type: ignore[arg-type]
    if mapped is None:
        return None  # passed through whole
    keys, inner = mapped
    extras = {k: v for k, v in part.items() if k not in keys and says_something(v)}
    if inner is not None and type(part.get(inner[0])) is dict:
        rest = unmapped_keys(part[inner[0]], inner[1]) or {}
        if inner[0] == "input_audio":
            rest = _audio_rest(part[inner[0]], rest)
        if rest:
            extras[inner[0]] = rest
    return extras or None


def _audio_rest(audio: dict[str, Any], rest: dict[str, Any]) -> dict[str, Any]:
    """An input_audio object's unmapped keys without its `format` when the part's media type
    names it (a format the media type does not name is kept, in its place)."""
    fmt = audio.get("format")
    if type(fmt) is str and AUDIO_FORMAT.get(AUDIO_MIME.get(fmt, "")) == fmt:
        rest = {k: v for k, v in rest.items() if k != "format"}
    return rest
