"""`ConfigError`: a config problem naming the file and the dotted key."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from jsonl_assets.core.options import (
    YAML_NULLS,
    Options,
    _flatten,
    leaf_message,
    literal_choices,
    option_message,
    shown,
    type_name,
    type_names,
    value_message,
)
from jsonl_assets.core.picklable_errors import Picklable

__all__ = ["YAML_NULLS", "ConfigError", "from_validation"]


class ConfigError(Picklable):
    """A config problem: `file`, dotted `key`, and what is wrong."""

    def __init__(self, file: Path | str, key: str, message: str) -> None:
        self.file = str(file)
        self.key = key
        # one line, as the CLI prints it (a library's message may span several)
        if "\n" in message:
            message = " ".join(line.strip() for line in message.splitlines() if line.strip())
        self.message = message
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {message}")


def from_validation(
    file: Path | str,
    exc: ValidationError,
    root: type[BaseModel],
    written: Mapping[str, str] | None = None,
) -> ConfigError:
    """The first pydantic error as a ConfigError: dotted key, allowed names, today's wording;
    `written` (dotted key -> a plain number's or boolean's text) shows a value as written."""
    errors = exc.errors()
    error = _chosen(errors)
    key, parent, field = _walk(root, error["loc"])
    if error["type"].startswith("union_tag_"):
        key += ".adapter"  # the discriminator
    message = _message(error, parent, field, key, (written or {}).get(key))
    if error["type"] in ("missing", "union_tag_not_found"):
        message += _unknown_siblings(errors, error, root)
    return ConfigError(file, key, message)


def _unknown_siblings(errors: list[ErrorDetails], error: ErrorDetails, root: Any) -> str:
    """For a missing key: the unknown keys written in the same mapping (`nmae` for `name`,
    most likely the missing key misspelled), which pydantic reports as separate errors - or,
    when the adapter is missing, not at all (the union member is never chosen)."""
    if error["type"] == "union_tag_not_found":
        given = error.get("input")
        allowed = _source_keys()
        unknown = [k for k in given if k not in allowed] if isinstance(given, dict) else []
    else:
        mapping = error["loc"][:-1]
        unknown = [
            str(e["loc"][-1])
            for e in errors
            if e["type"] == "extra_forbidden" and e["loc"][:-1] == mapping
        ]
    if not unknown:
        return ""
    names = ", ".join(repr(k) for k in unknown)
    return (
        f"; this mapping has the unknown key{'s' if len(unknown) > 1 else ''} {names} (misspelled?)"
    )


def _source_keys() -> set[str]:
    """The keys a source entry may have, whatever its adapter."""
    from jsonl_assets.core.config.models import SourceFields

    return {*SourceFields.model_fields, "adapter", "options"}


def _chosen(errors: list[ErrorDetails]) -> ErrorDetails:
    """The error to report: the first, unless it is one branch of a union (`str | list[str]`)
    and another branch of the same value went deeper (the list branch naming the bad item)."""
    first = errors[0]
    branch = next((i for i, part in enumerate(first["loc"]) if _is_branch(part)), None)
    if branch is None:
        return first
    same_value = first["loc"][:branch]
    deeper = [
        e
        for e in errors[1:]
        if e["loc"][:branch] == same_value and len(e["loc"]) > len(first["loc"])
    ]
    return max(deeper, key=lambda e: len(e["loc"])) if deeper else first


def _is_branch(part: Any) -> bool:
    """Whether a loc segment names a union member (pydantic's `constrained-str`,
    `list[constrained-str]`), not a key."""
    return isinstance(part, str) and (part.startswith("constrained-") or "[" in part)


def _member_label(annotation: Any, part: Any) -> bool:
    """Whether `part` is pydantic's label of a plain-type member of the union `annotation`
    (`int` and `float` of `int | float`): a branch, not a key."""
    if annotation is None or not isinstance(part, str):
        return False
    members = [t for t in _flatten(annotation) if t is not type(None)]
    if len(members) < 2 or any(isinstance(t, type) and issubclass(t, BaseModel) for t in members):
        return False
    return part in {getattr(t, "__name__", None) for t in members} | {"none"}


def _walk(root: Any, loc: tuple[Any, ...]) -> tuple[str, Any, Any]:
    """The dotted key of `loc`, the model holding its last segment and that field's annotation;
    a discriminated union's tag segment (the adapter name) and a union member's label (the
    `int` of `int | float`) are dropped from the key."""
    key, current, parent, field = "", root, None, None
    for part in loc:
        if _is_branch(part) or _member_label(current, part):
            continue
        current = _unwrap(current, part)
        if isinstance(part, int):
            key += f"[{part}]"
            current = _item(current)
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            if part not in current.model_fields:
                if _tag(current) == part:
                    continue
                parent, field = current, None
                key = f"{key}.{part}" if key else str(part)
                current = None
                continue
            # With its bounds: pydantic moves a plain field's Field(ge=...) out of the annotation.
            parent, field = current, current.model_fields[part].rebuild_annotation()
            current = field
        else:
            parent, field, current = None, None, None
        key = f"{key}.{part}" if key else str(part)
    return key, parent, field


def _unwrap(annotation: Any, part: Any) -> Any:
    flat = [t for t in _flatten(annotation) if t is not type(None)]
    if isinstance(part, str):
        for t in flat:
            if isinstance(t, type) and issubclass(t, BaseModel) and part in t.model_fields:
                return t
            if _tag(t) == part:
                return t
    models = [t for t in flat if isinstance(t, type) and issubclass(t, BaseModel)]
    if len(flat) > 1 and isinstance(part, str):
        return models[0] if models else flat[0]
    return flat[0] if len(flat) == 1 else annotation


def _item(annotation: Any) -> Any:
    for t in _flatten(annotation):
        if typing.get_origin(t) is list:
            return typing.get_args(t)[0]
    return annotation


def _tag(model: Any) -> str | None:
    if isinstance(model, type) and issubclass(model, BaseModel) and "adapter" in model.model_fields:
        args = typing.get_args(model.model_fields["adapter"].annotation)
        return args[0] if args else None
    return None


def _message(error: ErrorDetails, parent: Any, field: Any, key: str, text: str | None) -> str:
    """`text`: the value as written in the YAML, when it is a plain number or boolean."""
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    # A number or boolean where text belongs (`dataset_id: 2e5`): the text as written, quoted.
    not_text = kind == "string_type" and isinstance(value, (bool, int, float))
    written = (text if text is not None else shown(value)) if not_text else ""
    is_options = key.split(".")[-2:-1] == ["options"] or key.endswith(".options")
    if is_options and isinstance(parent, type) and issubclass(parent, Options):
        adapter = next((p for p in error["loc"] if isinstance(p, str) and p in _adapters()), "")
        message = option_message({**error, "loc": (key.rsplit(".", 1)[-1],)}, parent)
        if not_text:
            message += f" (written {written}); quote it ('{written}')"
        return f"adapter {adapter!r}: {message}" if adapter else message
    if kind == "missing":
        choices = literal_choices(field) if field is not None else []
        return f"is required: one of {', '.join(map(str, choices))}" if choices else "is required"
    if kind == "union_tag_not_found":
        return f"adapter is required; valid adapters: {', '.join(sorted(_adapters()))}"
    if kind == "union_tag_invalid":
        tag = (value or {}).get("adapter") if isinstance(value, dict) else ctx.get("tag")
        got = (
            f"must name an adapter, got null ({YAML_NULLS})"
            if tag is None
            else f"unknown adapter {shown(tag)}"
        )
        return f"{got}; valid adapters: {', '.join(sorted(_adapters()))}"
    if kind == "extra_forbidden":
        allowed = ", ".join(parent.model_fields) if parent is not None else "none"
        return f"unknown key; allowed keys here: {allowed}"
    if key == "sources" or (key.endswith(".paths") and kind != "value_error"):
        if key == "sources":
            return "must be a non-empty list of source entries"
        return "must be a glob or a non-empty list of globs (relative to the config file)"
    if kind == "literal_error":
        return f"must be one of {', '.join(map(str, literal_choices(field)))}; got {_got(value)}"
    names = type_names(field) if field is not None else []
    ge, le = _bound(field, "ge"), _bound(field, "le")
    if "int" in names and kind in (
        "int_type",
        "greater_than_equal",
        "less_than_equal",
        "int_from_float",
    ):
        low = ge if ge is not None else 0
        bounds = f"between {low} and {le}" if le is not None else f">= {low}"
        return f"must be an integer {bounds}, got {_got(value)}"
    if "float" in names:
        bounds = f"between {ge} and {le}" if le is not None else f">= {ge}"
        if kind.endswith("_type"):
            return f"must be a number {bounds}, got {_got(value)}"
        return f"must be {bounds}, got {_got(value)}"
    if kind == "string_pattern_mismatch":  # the field's description says the rule
        info = getattr(parent, "model_fields", {}).get(key.rsplit(".", 1)[-1])
        rule = getattr(info, "description", None) or f"of the form {ctx.get('pattern')}"
        return f"must be {rule}, got {_got(value)}"
    if kind == "string_type" and value is None:
        home = "; the home dir is '~', quoted" if key.startswith("output.") else ""
        return f"must be a non-empty string, got null ({YAML_NULLS}{home})"
    if not_text:
        read = "" if shown(value) == written else f" (read as {shown(value)})"
        return (
            f"must be a non-empty string, got {type_name(value)} {written!r}{read}; "
            f"quote it ('{written}')"
        )
    if kind == "string_type":
        return f"must be a non-empty string, got {type_name(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping, got {type_name(value)}"
    if kind == "list_type":
        return f"must be a list, got {type_name(value)}"
    return leaf_message(error, field) if field is not None else value_message(error)


def _got(value: Any) -> str:
    """A value the user wrote, as YAML writes it; a null says where YAML finds one."""
    return f"null ({YAML_NULLS})" if value is None else shown(value)


def _bound(annotation: Any, name: str) -> Any:
    return next(
        (getattr(m, name) for m in _metadata(annotation) if getattr(m, name, None) is not None),
        None,
    )


def _metadata(annotation: Any) -> list[Any]:
    out: list[Any] = []
    for t in [annotation, *typing.get_args(annotation)]:
        if typing.get_origin(t) is typing.Annotated:
            for m in t.__metadata__:
                out.extend([m, *getattr(m, "metadata", [])])
    return out


def _adapters() -> list[str]:
    from jsonl_assets.core.adapters import ADAPTERS

    return list(ADAPTERS)
