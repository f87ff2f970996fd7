"""How the CLI prints a failed step (defs/runs._errors): the stage's own message, whether the
step raised our error or a dg.Failure carrying it (the `shards` step's refusal, the record
stages' failed parse check). Before, a dg.Failure was printed with Dagster's class path in
front: `shards: dagster._core.definitions.events.Failure: sft|train: ...`."""

from __future__ import annotations

import dagster as dg

from jsonl_assets.core.partition_gate import ChecksFailed
from jsonl_assets.defs.runs import _errors

WHY = "sft|train: parse_failure_rate 0.5 > 0.1"


@dg.asset
def refused() -> None:
    raise dg.Failure(description=WHY, allow_retries=False)


@dg.asset
def failed() -> None:
    raise ChecksFailed([WHY])


def test_a_failure_prints_only_its_message() -> None:
    for asset in (refused, failed):
        result = dg.materialize([asset], raise_on_error=False)
        assert _errors(result) == [f"{asset.key.to_user_string()}: {WHY}"]
