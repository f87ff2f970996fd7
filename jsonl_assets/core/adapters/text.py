"""`text`: raw documents (cpt).

Input: ``{"text": str}`` (key: option ``text_field``). Output: one ``document`` message with
the text verbatim as a text part. With ``title_field`` set and the record holding a non-empty
string there (whitespace-only included, as given), a leading ``document`` message carries
``{"type": "json", "data": {"title": ...}}`` (the spec's way to attach bibliographic data); a
record without a title (absent, null or ``""``) is fine.

Empty or whitespace-only text (Unicode White_Space, ``blank_text.py``: U+001C..U+001F are
content) -> ``adapter:empty_text``. Nothing is stripped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from jsonl_assets.core.adapters.base import Adapted, AdapterError, AdapterOptions, AdaptFn
from jsonl_assets.core.adapters.parts import (
    EMPTY_TEXT,
    json_part,
    optional_text,
    record_metadata,
    require_object,
    require_str,
)
from jsonl_assets.core.blank_text import is_whitespace_only


class Options(AdapterOptions):
    text_field: str = Field("text", description="Key of the document text.")
    title_field: str | None = Field(None, description="Key of an optional title (json part).")


def build(options: Mapping[str, Any]) -> AdaptFn:
    text_field: str = options["text_field"]
    title_field: str | None = options["title_field"]

    def adapt_text(raw: Any) -> list[Adapted]:
        require_object(raw)
        text = require_str(raw, text_field)
        if not text or is_whitespace_only(text):
            raise AdapterError(EMPTY_TEXT, f"{text_field} is empty or only whitespace")
        messages: list[dict[str, Any]] = []
        title = optional_text(raw, title_field)
        if title is not None:
            messages.append({"role": "document", "content": [json_part({"title": title})]})
        messages.append({"role": "document", "content": [{"type": "text", "text": text}]})
        return [Adapted({"messages": messages}, metadata=record_metadata(raw))]

    return adapt_text
