"""Every exception class of the package crosses a process pool intact: pickled and unpickled,
it is the same class with the same message and attributes (a class whose `__init__` takes
other arguments than its message broke the pool, and the CLI said a worker was killed)."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pytest

import jsonl_assets
from jsonl_assets.core import build_workers
from jsonl_assets.core.compression import TruncatedInput
from jsonl_assets.core.config.errors import ConfigError

# A value for each parameter type an exception's __init__ takes (by its annotation's text).
_VALUES: dict[str, Any] = {
    "str": "a\nb \u202e",
    "int": 7,
    "bool": True,
    "bytes": b"\\ud800",
    "Path": Path("/tmp/x\ny"),
    "list[str]": ["one", "two"],
    "OSError": OSError(28, "No space left on device"),
}


def _exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(jsonl_assets.__path__, "jsonl_assets."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__.startswith("jsonl_assets.")
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


def _value_for(annotation: str) -> Any:
    for option in (part.strip() for part in annotation.split("|")):
        if option in _VALUES:
            return _VALUES[option]
    raise AssertionError(f"no test value for a parameter of type {annotation}: add one")


def _instance(cls: type[BaseException]) -> BaseException:
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if parameters and parameters[0].kind is inspect.Parameter.VAR_POSITIONAL:
        return cls("a message with a\nnewline")
    args = [
        _value_for(str(p.annotation))
        for p in parameters
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    return cls(*args)


def _same(a: BaseException, b: BaseException) -> None:
    assert type(b) is type(a)
    assert str(b) == str(a) and b.args == a.args
    assert sorted(vars(b)) == sorted(vars(a))
    for name, value in vars(a).items():
        assert repr(getattr(b, name)) == repr(value), name


CLASSES = _exception_classes()


def test_the_package_has_exception_classes_to_check() -> None:
    names = {cls.__name__ for cls in CLASSES}
    assert {"ConfigError", "TruncatedInput", "AdapterError", "StageError", "WorkerDied"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_every_exception_class_round_trips_through_pickle(cls: type[BaseException]) -> None:
    exc = _instance(cls)
    _same(exc, pickle.loads(pickle.dumps(exc)))


def _raise_config_error(path: str) -> None:
    raise ConfigError(path, "dataset", "not valid YAML: line 2, column 1")


def _raise_truncated(path: str) -> None:
    raise TruncatedInput("zstd", 50, f"{path}: the stream ends", cut=True)


@pytest.mark.parametrize("fn", [_raise_config_error, _raise_truncated])
def test_an_error_raised_in_a_forked_worker_comes_back_as_itself(fn: Any) -> None:
    # Before, the pool broke (BrokenProcessPool): the error could not be unpickled.
    with ProcessPoolExecutor(1, mp_context=get_context("fork")) as pool:
        future = pool.submit(fn, "/data/bad.yaml")
        with pytest.raises((ConfigError, TruncatedInput)) as caught:
            future.result(timeout=60)
    assert "/data/bad.yaml" in str(caught.value)


class _ForeignError(Exception):
    """As a library's exception may be: its __init__ takes more than its message."""

    def __init__(self, file: str, line: int) -> None:
        super().__init__(f"{file} line {line}: broken")


def _raise_foreign(file: str) -> None:
    raise _ForeignError(file, 3)


def test_an_error_pickle_cannot_carry_comes_back_as_its_message_not_a_dead_worker() -> None:
    pool = build_workers.worker_pool(1, polars=False)
    try:
        future = build_workers.submit(pool, _raise_foreign, "/data/x.jsonl")
        with pytest.raises(build_workers.UnpicklableError) as caught:
            build_workers.result(future)
    finally:
        build_workers.release_pool(pool)
    assert str(caught.value) == "_ForeignError: /data/x.jsonl line 3: broken"
