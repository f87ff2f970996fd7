"""Strict YAML for the pipeline config: only values JSON can hold, each key once.

The document is composed into nodes (no Python object built yet) and every node is checked
with its dotted key: strings, 64-bit integers, finite floats, true/false, null, lists and
mappings with string keys. Anything else a YAML tag can make (binary, set, omap, pairs,
timestamps, NaN/Infinity, python/* or custom tags), a key repeated in one mapping, and a
plain scalar that YAML 1.1 silently turns into something else (`no` -> false, `1:30` -> 90,
`0755` -> 493, `0b1010` -> 10, `+0x1F` -> 31, `1_000` -> 1000), or into a string where YAML
1.2 reads an integer (`089`, `0o17`; as a mapping key too), is a `(key, message)` problem.
The floats YAML 1.2 and JSON write that YAML 1.1 reads as strings (`1e3`, `1.5e3`, `1e-3`,
`-.5`) are read as the floats they are. Merge keys (`<<`) and aliases are allowed; an alias
loop, or aliases that add more than `MAX_EXPANDED_NODES` values once expanded, are refused
(billion laughs).

Before anything is composed, one pass over the parser's events (libyaml's parser keeps its own
stack; its composer recurses in C and overflows the stack on 30,000 nested `[`) refuses
nesting deeper than `MAX_DEPTH` and a document whose text, with every alias expanded, passes
`MAX_EXPANDED_BYTES` (one long string aliased many times: few values, gigabytes once the build
serialises the config for its fingerprint and metadata.json).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
from typing import Any, Final

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from jsonl_assets.core.config.text_places import reader_message
from jsonl_assets.core.picklable_errors import Picklable

# A config holds settings, not data: YAML costs about 10 µs a value in Python (resolving,
# checking, constructing), so 2 MiB of the densest YAML is read in a few seconds.
MAX_CONFIG_BYTES: Final = 2 << 20
MAX_EXPANDED_NODES: Final = 100_000
MAX_DEPTH: Final = 100
# The document's scalars (keys and values) with every alias expanded, in characters: a config
# is at most MAX_CONFIG_BYTES written out, aliases may repeat it a few times over.
MAX_EXPANDED_BYTES: Final = 8 << 20

_T = "tag:yaml.org,2002:"
_WRITTEN_TAGS: Final = frozenset({_T + "int", _T + "float", _T + "bool"})
_INT_MIN: Final = -(1 << 63)
_INT_MAX: Final = (1 << 64) - 1  # orjson writes unsigned 64-bit integers too
_BOOL_WORDS = re.compile(r"true|false", re.IGNORECASE)
# Keys whose value must be an ISO-8601 date-time (models.Dataset), not a bare date.
DATETIME_KEYS: Final = frozenset({"dataset.created_at"})
_NULL_WORDS: Final = ("", "~", "null", "Null", "NULL")  # what YAML reads as null
_LEADING_ZERO = re.compile(r"[-+]?0[0-9_]+")
_BINARY = re.compile(r"[-+]?0b[0-1_]+")  # YAML 1.1's binary integers (not in YAML 1.2)
_SIGNED_HEX = re.compile(r"[-+]0x[0-9a-fA-F_]+")  # YAML 1.2's hex integers have no sign
# Integers of YAML 1.2 that YAML 1.1 reads as strings (its own are resolved first): a leading
# zero before an 8 or 9 (`089`), an octal number in YAML 1.2's form (`0o17`).
_YAML12_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+")


class YamlProblem(Picklable):
    """A value of the config that JSON cannot hold: dotted `key` and `message`."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key or '<root>'}: {message}")


def load_strict(text: str) -> Any:
    """The document as plain JSON values; `YamlProblem` for a value JSON cannot hold,
    `yaml.YAMLError` for text that is not YAML."""
    return load_written(text)[0]


def load_written(text: str) -> tuple[Any, dict[str, str]]:
    """`load_strict`'s document, and each plain number and boolean as written (`2e5`, not
    200000.0) by dotted key: a message about a key that takes text shows what the user wrote
    (an aliased scalar only at its first key)."""
    _check_events(text)
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise YamlProblem("", "nested too deeply") from None
        if node is None:
            return None, {}
        checker = _Checker(loader)
        checker.check(node, "", 0)
        return loader.construct_document(node), checker.written
    finally:
        loader.dispose()


# libyaml composes the document when PyYAML has it (its wheels do): a large config is
# composed about 20x faster than by the pure-Python loader.
_Base: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """The safe loader, reading as numbers the floats YAML 1.2 and JSON write that YAML 1.1
    reads as strings: an exponent without a dot or its sign (`1e3`, `1.5e3`, `1e-3`) and a
    signed fraction without a leading digit (`-.5`)."""


_Loader.add_implicit_resolver(  # tried after YAML 1.1's own: only what they leave as strings
    _T + "float",
    re.compile(r"^(?=[^.eE]*[.eE])[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


class _Open:
    """A collection whose end event has not come yet."""

    __slots__ = ("anchor", "is_map", "key", "n", "name", "start")

    def __init__(self, key: str, is_map: bool, anchor: str | None, start: tuple[int, int]) -> None:
        self.key, self.is_map, self.anchor, self.start = key, is_map, anchor, start
        self.n = 0  # events of children seen (a mapping: keys and values alternate)
        self.name = ""  # a mapping: the last key's text


def _check_events(text: str) -> None:
    """Depth and expanded size from the parser's events alone (no recursion anywhere)."""
    loader = _Loader(text)
    stack: list[_Open] = []
    # anchor -> (values, characters) of its node with aliases expanded, once it has ended
    anchors: dict[str, tuple[int, int]] = {}
    values = chars = written = 0  # so far: expanded values, their characters, values written
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                done = stack.pop()
                if done.anchor is not None:
                    anchors[done.anchor] = (values - done.start[0], chars - done.start[1])
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue
            key = _child_key(stack[-1]) if stack else ""
            if stack:
                parent = stack[-1]
                if parent.is_map and parent.n % 2 == 0:
                    scalar = isinstance(event, yaml.ScalarEvent)
                    parent.name = event.value if scalar else "?"
                parent.n += 1
            if len(stack) > MAX_DEPTH:
                raise YamlProblem(key, f"nested deeper than {MAX_DEPTH} levels")
            if isinstance(event, yaml.AliasEvent):  # an unknown or open anchor: the composer's
                added = anchors.get(event.anchor, (0, 0))
                values, chars = values + added[0], chars + added[1]
            else:
                written += 1
                values += 1
                if isinstance(event, yaml.ScalarEvent):
                    chars += len(event.value) + 1
                    if event.anchor is not None:
                        anchors[event.anchor] = (1, len(event.value) + 1)
                else:
                    is_map = isinstance(event, yaml.MappingStartEvent)
                    stack.append(_Open(key, is_map, event.anchor, (values - 1, chars)))
            # What aliases add beyond the values written out: only that outgrows the file.
            if values - written > MAX_EXPANDED_NODES:
                raise YamlProblem(
                    key,
                    f"aliases add more than {MAX_EXPANDED_NODES} values once expanded (a YAML "
                    "bomb?); use fewer nested aliases",
                )
            if chars > MAX_EXPANDED_BYTES:
                raise YamlProblem(
                    key,
                    f"the config's values, aliases expanded, pass {MAX_EXPANDED_BYTES >> 20} MiB "
                    "(one long string aliased many times?); alias less",
                )
    finally:
        loader.dispose()


def _child_key(parent: _Open) -> str:
    """Dotted key of the node the next event of `parent` starts."""
    if not parent.is_map:
        return f"{parent.key}[{parent.n}]"
    return parent.key if parent.n % 2 == 0 else _join(parent.key, parent.name)


class _Checker:
    """Checks each node of the composed document once (sizes and depth: `_check_events`)."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.done: set[int] = set()  # nodes already checked
        self.open: set[int] = set()  # nodes being checked (an alias to one is a loop)
        self.written: dict[str, str] = {}  # dotted key -> a plain number or boolean's text

    def check(self, node: Node, key: str, depth: int) -> None:
        """Check `node` (at dotted `key`)."""
        if id(node) in self.done:
            return
        if id(node) in self.open:
            raise YamlProblem(key, "an alias refers to the node that contains it (a loop)")
        if depth > MAX_DEPTH:  # merges nest deeper than their events
            raise YamlProblem(key, f"nested deeper than {MAX_DEPTH} levels")
        self.open.add(id(node))
        if isinstance(node, ScalarNode):
            _check_scalar(self.loader, node, key)
            if not node.style and node.tag in _WRITTEN_TAGS:
                self.written[key] = node.value
        elif isinstance(node, SequenceNode):
            if node.tag != _T + "seq":
                raise YamlProblem(key, _tag_message(node.tag))
            for i, item in enumerate(node.value):
                self.check(item, f"{key}[{i}]", depth + 1)
        elif isinstance(node, MappingNode):
            self._mapping(node, key, depth)
        else:  # pragma: no cover - the composer makes only these three
            raise YamlProblem(key, f"unexpected YAML node {type(node).__name__}")
        self.open.discard(id(node))
        self.done.add(id(node))

    def _mapping(self, node: MappingNode, key: str, depth: int) -> None:
        if node.tag != _T + "map":
            raise YamlProblem(key, _tag_message(node.tag))
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == _T + "merge":
                if "<<" in seen:  # PyYAML would keep only the last merge's values
                    raise YamlProblem(
                        _join(key, "<<"),
                        "duplicate merge key; merge several mappings with `<<: [*a, *b]`",
                    )
                seen.add("<<")
                self._merge(value_node, key, depth)
                continue
            if not _string_key(key_node):
                shown = key_node.value if isinstance(key_node, ScalarNode) else None
                raise YamlProblem(
                    _join(key, shown) if isinstance(shown, str) else key,
                    f"mapping keys must be strings, got {_describe(key_node)}"
                    + (f"; quote it ('{shown}')" if isinstance(shown, str) else ""),
                )
            name = key_node.value
            sub = _join(key, name)
            if name in seen:
                raise YamlProblem(sub, "duplicate key (YAML would keep only the last one)")
            seen.add(name)
            self.check(value_node, sub, depth + 1)

    def _merge(self, value: Node, key: str, depth: int) -> None:
        """`<<: *a` or `<<: [*a, *b]`: each merged node must be a mapping."""
        merged = value.value if isinstance(value, SequenceNode) else [value]
        for item in merged:
            if not isinstance(item, MappingNode):
                raise YamlProblem(_join(key, "<<"), "a merge key takes a mapping or a list of them")
            self.check(item, key, depth + 1)


def _string_key(node: Node) -> bool:
    """Whether a mapping key is a string in YAML 1.1 (this reader) and YAML 1.2 alike: a plain
    `089` or `0o17` is one here but an integer in YAML 1.2, so refused as a value is."""
    if not isinstance(node, ScalarNode):
        return False
    if node.tag == _T + "value":  # `=`, which the constructor reads as the string "="
        return True
    return node.tag == _T + "str" and not (not node.style and _YAML12_INT.fullmatch(node.value))


def _check_scalar(loader: Any, node: ScalarNode, key: str) -> None:
    tag, text, plain = node.tag, node.value, not node.style  # None, or "" from libyaml
    if tag == _T + "str":
        if plain and _YAML12_INT.fullmatch(text):
            value = int(text, 8 if text.startswith("0o") else 10)
            raise YamlProblem(
                key,
                f"YAML 1.2 reads {text!r} as the number {value} but YAML 1.1 (this reader) as "
                f"a string; quote it for the string ('{text}') or write {value}",
            )
        return
    if tag == _T + "null":
        if text not in _NULL_WORDS:  # the constructor makes null of any text
            raise YamlProblem(key, f"!!null takes no value, got {text!r}")
        return
    if tag == _T + "bool":
        if _BOOL_WORDS.fullmatch(text):
            return
        if plain and text.lower() in loader.bool_values:
            raise YamlProblem(
                key,
                f"YAML 1.1 reads {text!r} as a boolean; write true or false, "
                f"or quote it for the string ('{text}')",
            )
        raise YamlProblem(key, f"not a boolean: {text!r} (write true or false)")
    if tag == _T + "int":
        if plain and (":" in text or _LEADING_ZERO.fullmatch(text)):
            kind = "a base-60 number" if ":" in text else "an octal number"
            raise YamlProblem(key, f"YAML 1.1 reads {text!r} as {kind}; quote it ('{text}')")
        if plain:
            _check_yaml11_number(loader, node, key, "int")
        try:
            value = loader.construct_yaml_int(node)
        except (ValueError, IndexError) as exc:  # IndexError: '', '-', '_' under !!int
            raise YamlProblem(key, f"not an integer: {text!r}") from exc
        if not _INT_MIN <= value <= _INT_MAX:
            raise YamlProblem(
                key,
                f"integer {text} does not fit in 64 bits (JSON readers lose it): "
                "a smaller number, or quoted if it is text (an id)",
            )
        return
    if tag == _T + "float":
        if plain and ":" in text:
            raise YamlProblem(key, f"YAML 1.1 reads {text!r} as a base-60 number; quote it")
        if plain:
            _check_yaml11_number(loader, node, key, "float")
        try:
            value = loader.construct_yaml_float(node)
        except (ValueError, IndexError) as exc:  # IndexError: '' under !!float
            raise YamlProblem(key, f"not a number: {text!r}") from exc
        if math.isnan(value):
            raise YamlProblem(key, f"{text} is NaN, which JSON cannot hold")
        if math.isinf(value):
            raise YamlProblem(key, f"{text} is Infinity, which JSON cannot hold")
        return
    if tag == _T + "timestamp":
        quoted = text
        if key in DATETIME_KEYS:  # advice that loads: an ISO-8601 date-time with its zone
            with contextlib.suppress(ValueError, TypeError):
                quoted = datetime_advice(loader.construct_yaml_timestamp(node))
        raise YamlProblem(
            key,
            f"YAML reads {text!r} as a date/time, which JSON cannot hold; quote it ('{quoted}')",
        )
    raise YamlProblem(key, _tag_message(tag))


def _check_yaml11_number(loader: Any, node: ScalarNode, key: str, kind: str) -> None:
    """A plain number only YAML 1.1 reads as one: a binary integer (`0b1010` -> 10), a signed
    hexadecimal one (`+0x1F` -> 31, `-0x1` -> -1: YAML 1.2 reads hex unsigned only) or digits
    with underscores (`1_000` -> 1000, `0x_1F` -> 31, `1_0.5` -> 10.5). YAML 1.2 (and most
    readers of the file) take them as the strings they look like."""
    text = node.value
    if _BINARY.fullmatch(text):
        what = "a binary number"
    elif _SIGNED_HEX.fullmatch(text):
        what = "a hexadecimal number"
    elif "_" in text:
        what = "a number, dropping its underscores"
    else:
        return
    construct = loader.construct_yaml_int if kind == "int" else loader.construct_yaml_float
    try:
        value = construct(node)
    except (ValueError, IndexError):  # `0b_`, `1__`: no number to show
        value = None
    shown = "" if value is None else f" ({value!r})"
    if what == "a hexadecimal number":
        shown += ", YAML 1.2 as a string (its hexadecimal numbers have no sign)"
    raise YamlProblem(
        key,
        f"YAML 1.1 reads {text!r} as {what}{shown}; quote it for the string ('{text}')"
        + ("" if value is None else f" or write {value!r}"),
    )


def _tag_message(tag: str) -> str:
    short = tag.removeprefix(_T)
    if short in ("binary", "set", "omap", "pairs"):
        return (
            f"!!{short} makes a value JSON cannot hold (a {short}); use a string, list or mapping"
        )
    shown = f"!!{short}" if tag.startswith(_T) else tag
    return f"the YAML tag {shown} is not allowed (only plain JSON values)"


def _describe(node: Node) -> str:
    if isinstance(node, ScalarNode):
        kind = node.tag.removeprefix(_T)
        if kind == "str":  # a string here, an integer in YAML 1.2 (`_string_key`)
            return f"{node.value!r}, an integer in YAML 1.2"
        return f"{kind} {node.value!r}"
    return "a list" if isinstance(node, SequenceNode) else "a mapping"


def datetime_advice(moment: dt.date) -> str:
    """`moment` as the ISO-8601 date-time a date-time key takes: a date at midnight, a time
    without a zone in UTC (as YAML reads one)."""
    if not isinstance(moment, dt.datetime):
        return f"{moment.isoformat()}T00:00:00Z"
    return moment.isoformat() + ("Z" if moment.tzinfo is None else "")


def syntax_message(exc: yaml.YAMLError, text: str = "") -> str:
    """A YAML syntax error in one line, placed by line and column of the config file (1-based;
    PyYAML's own text spans lines and names the text `<unicode string>`); a character the
    reader refuses is placed in `text`, the config's text (text_places)."""
    if isinstance(exc, yaml.reader.ReaderError):
        return reader_message(exc, text)
    if not isinstance(exc, yaml.MarkedYAMLError):
        return " ".join(str(exc).split())
    where = _place(exc.problem_mark)
    problem = " ".join((exc.problem or str(exc)).split())
    message = f"{where}: {problem}" if where else problem
    if exc.context:
        context_place = _place(exc.context_mark)
        suffix = f" at {context_place}" if context_place and context_place != where else ""
        message += f" ({' '.join(exc.context.split())}{suffix})"
    return message


def _place(mark: Any) -> str:
    return "" if mark is None else f"line {mark.line + 1}, column {mark.column + 1}"
