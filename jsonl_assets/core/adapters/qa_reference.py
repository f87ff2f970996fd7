"""`qa_reference`: a question with a gradable answer (rft).

Input: ``{"question", "answer"}`` (field names are options). The question becomes the user
message; the answer becomes ``reference``:

* ``answer_regex`` (default none): the gradable answer is group 1 of the first match in the
  answer text (the whole match when the pattern has no group); no match ->
  ``adapter:answer_not_found``. For GSM8K use ``(?<!#)####\\s*(.+?)\\s*$``.
* ``grading``:
  - ``exact_match`` -> ``{"grading": {"type": "exact_match"}, "answer": <text or number>}``;
  - ``numeric`` -> ``{"grading": {"type": "numeric", "tolerance": t}, "answer": <number>}``:
    the answer is parsed after removing the whitespace at its ends (White_Space only: a
    control character makes it ``adapter:not_numeric``) and thousands separators (``"1,234"`` -> ``1234``), an int
    when integral and within 64 bits (``"9007199254740993.0"`` -> ``9007199254740993``), else
    a float when a double holds it exactly (``"1e20"``, ``"0.5"``); a number neither holds
    exactly (``"0.30000000000000000001"``, ``"1e400"``, ``"1e-400"``, an integer of 30 digits) ->
    ``adapter:unsupported_value``, never written as another number (numeric grading needs a
    number, so the text cannot stand in for it);
  - ``any_of`` -> ``{"grading": {"type": "any_of"}, "answers": [...]}``: a list answer is used
    as is; a string is split on ``answers_separator`` (when set; each part stripped of the whitespace
    at its ends, Unicode White_Space only (``blank_text.py``: U+001C..U+001F are kept), and
    parts left empty dropped) or used as a one-element list.
* ``keep_solution`` (default false): the full answer text (worked solution with its final
  answer line, verbatim) becomes an assistant message after the question.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from pydantic import Field

from jsonl_assets.core.adapters.base import Adapted, AdapterError, AdapterOptions, AdaptFn
from jsonl_assets.core.adapters.parts import (
    ANSWER_NOT_FOUND,
    NOT_NUMERIC,
    UNSUPPORTED_VALUE,
    json_type,
    missing,
    record_metadata,
    require_object,
    require_str,
    text_message,
    wrong_type,
)
from jsonl_assets.core.blank_text import strip_whitespace
from jsonl_assets.core.options import OptionsError
from jsonl_assets.core.readers.exact_numbers import (
    INT_MAX,
    INT_MIN,
    decimal_problem,
    number_problem,
)
from jsonl_assets.core.value_text import value_text

GRADINGS: Final = ("exact_match", "numeric", "any_of")


class Options(AdapterOptions):
    TEXT_OPTIONS = frozenset({"answer_regex", "answers_separator"})  # text, not names

    question_field: str = Field("question", description="Key of the question.")
    answer_field: str = Field("answer", description="Key of the answer.")
    answer_regex: str | None = Field(
        None, description="Regex whose group 1 (or whole match) is the gradable answer."
    )
    grading: Literal["exact_match", "numeric", "any_of"] = Field(
        "exact_match", description="Grading type."
    )
    tolerance: int | float = Field(0, description="Absolute tolerance for numeric grading.")
    keep_solution: bool = Field(
        False, description="Keep the full answer text as an assistant message."
    )
    answers_separator: str | None = Field(
        None, description="Separator splitting a string answer into any_of answers."
    )


_NUMBER: Final = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
# Commas only as thousands separators: `1,234,567.5`; `3,14` (a decimal comma) is no number.
_GROUPED: Final = re.compile(r"[+-]?[1-9]\d{0,2}(,\d{3})+(\.\d*)?([eE][+-]?\d+)?")


def parse_number(text: str, where: str) -> int | float:
    """The number answer text writes, exactly: thousands commas removed (a comma elsewhere, a
    decimal comma say, is no number); an int when integral and within 64 bits, else a float
    when its double is written as the same number (exact_numbers.decimal_problem). Text that
    is no number -> ``adapter:not_numeric``; a number neither holds (``1e400`` beyond a double
    included) -> ``adapter:unsupported_value``."""
    cleaned = strip_whitespace(text)
    if "," in cleaned and _GROUPED.fullmatch(cleaned):
        cleaned = cleaned.replace(",", "")
    if not _NUMBER.fullmatch(cleaned):
        raise AdapterError(NOT_NUMERIC, f"{where} {value_text(text)} is not a number")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:  # an exponent of 19+ digits: zero, or no int nor double holds it
        if (why := number_problem(cleaned)) is None:
            return 0
        raise _unsupported(where, text, why) from None
    # adjusted() first: int() of `1e999999999` would build a billion-digit integer.
    if value.adjusted() < 20 and value == value.to_integral_value():
        integral = int(value)
        if INT_MIN <= integral <= INT_MAX:
            return integral
    why = decimal_problem(value, cleaned)
    if why is None:
        return float(value)
    if math.isfinite(float(value)) and value == value.to_integral_value():
        why = f"an integer beyond 64 bits, and {why}"
    raise _unsupported(where, text, why)


def _unsupported(where: str, text: str, why: str) -> AdapterError:
    return AdapterError(
        UNSUPPORTED_VALUE,
        f"{where} {value_text(text)}: {why}; numeric grading needs a number, so the record is "
        "not written rather than altered",
    )


def check_options(options: Mapping[str, Any]) -> re.Pattern[str] | None:
    """The compiled answer regex; `OptionsError` naming the option whose value cannot work."""
    tolerance = options["tolerance"]
    if not math.isfinite(tolerance) or tolerance < 0:
        raise OptionsError(
            "tolerance", f"tolerance must be a finite number >= 0, got {tolerance!r}"
        )
    if options["answers_separator"] == "":
        raise OptionsError("answers_separator", "answers_separator must not be empty")
    pattern = options["answer_regex"]
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise OptionsError(
            "answer_regex", f"answer_regex {pattern!r} does not compile: {exc}"
        ) from None


def make_reference(
    answer: Any, grading: str, tolerance: int | float, separator: str | None, where: str
) -> dict[str, Any]:
    """The ``reference`` object for one answer value (already extracted)."""
    if grading == "numeric":
        if type(answer) is str:
            number: int | float = parse_number(answer, where)
        elif type(answer) is int or (type(answer) is float and math.isfinite(answer)):
            number = answer
        else:
            raise AdapterError(NOT_NUMERIC, f"{where} is {json_type(answer)}, not a number")
        return {"grading": {"type": "numeric", "tolerance": tolerance}, "answer": number}
    if grading == "any_of":
        if type(answer) is list:
            answers = answer
        elif type(answer) is str and separator is not None:
            answers = [a for a in map(strip_whitespace, answer.split(separator)) if a]
        else:
            answers = [answer]
        if not answers:
            raise AdapterError(ANSWER_NOT_FOUND, f"{where} holds no answers")
        return {"grading": {"type": "any_of"}, "answers": answers}
    if type(answer) is not str and (type(answer) is not int and type(answer) is not float):
        raise wrong_type(where, "a string or a number", answer)
    return {"grading": {"type": "exact_match"}, "answer": answer}


def build(options: Mapping[str, Any]) -> AdaptFn:
    regex = check_options(options)
    question_field: str = options["question_field"]
    answer_field: str = options["answer_field"]
    grading: str = options["grading"]
    tolerance: int | float = options["tolerance"]
    keep_solution: bool = options["keep_solution"]
    separator: str | None = options["answers_separator"]

    def adapt_qa_reference(raw: Any) -> list[Adapted]:
        require_object(raw)
        question = require_str(raw, question_field)
        answer = raw.get(answer_field)
        if answer is None:
            raise missing(answer_field)
        solution: str | None = answer if type(answer) is str else None
        if regex is not None:
            text = require_str(raw, answer_field)
            match = regex.search(text)
            if match is None:
                raise AdapterError(
                    ANSWER_NOT_FOUND,
                    f"{answer_field} does not match answer_regex {regex.pattern!r}: "
                    f"{value_text(text[-120:], 130)}",
                )
            answer = match.group(1) if regex.groups else match.group(0)
            if answer is None:
                raise AdapterError(
                    ANSWER_NOT_FOUND, f"{answer_field}: answer_regex group 1 did not take part"
                )
        reference = make_reference(answer, grading, tolerance, separator, answer_field)
        messages = [text_message("user", question)]
        if keep_solution:
            if solution is None:
                raise wrong_type(answer_field, "a string (keep_solution is on)", answer)
            messages.append(text_message("assistant", solution))
        record = {"messages": messages, "reference": reference}
        return [Adapted(record, metadata=record_metadata(raw))]

    return adapt_qa_reference
