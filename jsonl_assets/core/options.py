"""Options models: the strict pydantic base every reader format and adapter declares its
options with, and the one place a pydantic error becomes a readable message.

`validate_options(model, given, owner)` is the only way options are resolved: it fills the
defaults and raises `OptionsError` naming the option, the owner and the allowed names.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from jsonl_assets.core.picklable_errors import Picklable

# Why a value may be null without the user writing `null` (`output.dir: ~` meant the home dir).
YAML_NULLS = "YAML reads an empty value and a bare `~` as null"


class Options(BaseModel):
    """Base of every options model: unknown keys are errors, no type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class OptionsError(Picklable, ValueError):
    """Bad options; `option` is the offending option name (None: the options as a whole)."""

    def __init__(self, option: str | None, message: str) -> None:
        super().__init__(message)
        self.option = option


def validate_options(model: type[Options], given: Any, owner: str) -> dict[str, Any]:
    """`given` checked against `model`, defaults filled in, as a plain dict in field order."""
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise OptionsError(None, f"{owner}: options must be a mapping, got {type_name(given)}")
    try:
        return model.model_validate(dict(given)).model_dump()
    except ValidationError as exc:
        error = exc.errors()[0]
        option = next((str(p) for p in error["loc"] if isinstance(p, str)), None)
        raise OptionsError(option, f"{owner}: {option_message(error, model)}") from None


def option_message(error: ErrorDetails, model: type[BaseModel]) -> str:
    """A pydantic error on an options model in the project's words."""
    name = next((str(p) for p in error["loc"] if isinstance(p, str)), None)
    if error["type"] == "extra_forbidden":
        return f"unknown option {name!r}; valid options: {sorted(model.model_fields) or 'none'}"
    if name is None or name not in model.model_fields or error["type"] == "value_error":
        return value_message(error)
    value = error.get("input")
    annotation = model.model_fields[name].annotation
    if value is None and type(None) not in _flatten(annotation):
        return f"option {name!r} must not be null ({YAML_NULLS})"
    return f"option {name!r} {leaf_message(error, annotation)}"


def leaf_message(error: ErrorDetails, annotation: Any) -> str:
    """What is wrong with one value, given the field's type."""
    value = error.get("input")
    kind = error["type"]
    choices = literal_choices(annotation)
    if kind == "literal_error" and choices:
        return f"must be one of {list(choices)}, got {shown(value)}"
    if kind.endswith("_type") or kind in ("is_instance_of", "model_type"):
        names = type_names(annotation)
        if "int" in names and "float" in names:  # `int | float`: a number, either way written
            names = ["a number (int or float)", *(n for n in names if n not in ("int", "float"))]
        got = "null" if value is None else f"{type_name(value)} {shown(value)}"
        return f"must be {' or '.join(names)}, got {got}"
    return value_message(error)


def shown(value: Any) -> str:
    """A config value as YAML writes it: null, true and false (not Python's None, True,
    False); a string quoted; a list or mapping as JSON."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return repr(value)


def value_message(error: ErrorDetails) -> str:
    """The message of a check a validator raised (pydantic prefixes it with 'Value error, ')."""
    message = str(error["msg"])
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def type_names(annotation: Any) -> list[str]:
    names = []
    for t in _flatten(annotation):
        if typing.get_origin(t) is Literal:
            name = type(typing.get_args(t)[0]).__name__
        elif t is type(None):
            name = "null"
        else:
            origin = typing.get_origin(t) or t
            name = "mapping" if origin in (dict, Mapping) else getattr(origin, "__name__", str(t))
        if name not in names:
            names.append(name)
    return names


def literal_choices(annotation: Any) -> tuple[Any, ...]:
    return tuple(
        c
        for t in _flatten(annotation)
        if typing.get_origin(t) is Literal
        for c in typing.get_args(t)
    )


def type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _flatten(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is typing.Annotated:
        return _flatten(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _flatten(arg)]
    return [annotation]
