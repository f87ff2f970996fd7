"""Which blocking rate each quarantine reason counts toward: one table for the whole code base.

Every rejected input is quarantined with a reason code; every reason counts toward exactly one
rate, and every rate has a blocking check. A code missing from the table still counts, toward
the rate of the stage that quarantined it (`STAGE_RATE`), so nothing can count toward nothing;
`jsonl_assets_tests/test_reject_reasons.py` holds the table complete for every code the code
base can emit.
"""

from __future__ import annotations

from typing import Final

PARSE_FAILURE_RATE: Final = "parse_failure_rate"
ADAPTER_REJECT_RATE: Final = "adapter_reject_rate"
INVALID_RATE: Final = "invalid_rate"
DUPLICATE_ID_RATE: Final = "duplicate_id_rate"
RATES: Final = (PARSE_FAILURE_RATE, ADAPTER_REJECT_RATE, INVALID_RATE, DUPLICATE_ID_RATE)

# The threshold key of each rate (`thresholds.<key>`, `sources[].thresholds.<key>`).
THRESHOLD_KEYS: Final = {
    PARSE_FAILURE_RATE: "max_parse_failure_rate",
    ADAPTER_REJECT_RATE: "max_adapter_reject_rate",
    INVALID_RATE: "max_invalid_rate",
    DUPLICATE_ID_RATE: "max_duplicate_id_rate",
}

# Exact codes. Readers (extracted stage): the input could not be read or parsed.
_EXACT: Final = {
    **dict.fromkeys(
        (
            "parse_error",
            "invalid_utf8",
            "invalid_encoding",
            "not_an_object",
            "not_an_array",
            "too_large",
            "corrupt_file",
            "not_a_file",  # a matched path that is not a regular file: a FIFO, a dangling link
            "unsupported_value",
            "unsupported_type",
            "duplicate_key",
            "csv_field_count",
            "csv_unclosed_quote",
            "csv_bad_quote",
            "csv_bad_header",
        ),
        PARSE_FAILURE_RATE,
    ),
    # transformed stage: no id, or a record that cannot be written as JSON.
    "missing_id": ADAPTER_REJECT_RATE,
    "unserializable": ADAPTER_REJECT_RATE,
    # output.shard_by: content_type, a record's own content type that cannot name its shard
    "content_type_name": ADAPTER_REJECT_RATE,
    "duplicate_id": DUPLICATE_ID_RATE,
}
# Families of codes, by prefix.
_PREFIXES: Final = {
    "adapter:": ADAPTER_REJECT_RATE,  # adapter:<code>, adapter:no_records included
    "schema:": INVALID_RATE,  # a rule of the spec
    "quality:": INVALID_RATE,  # the quality policy
}
# A code the table does not know counts toward its stage's rate.
STAGE_RATE: Final = {
    "extracted": PARSE_FAILURE_RATE,
    "transformed": ADAPTER_REJECT_RATE,
    "validated": INVALID_RATE,
}


def known_rate(reason: str) -> str | None:
    """The rate `reason` counts toward by the table, or None when the table does not know it."""
    if (rate := _EXACT.get(reason)) is not None:
        return rate
    prefix, colon, _ = reason.partition(":")
    return _PREFIXES.get(prefix + colon) if colon else None


def rate_of(reason: str, stage: str) -> str:
    """The rate `reason`, quarantined by `stage`, counts toward."""
    return known_rate(reason) or STAGE_RATE[stage]
