"""Record rules of LLM Training Data v1 (spec checklist D, E, F): one table of findings
(table.py) and one walk over a record (walker.py) that reports them.

Rule ids are the checklist's. Choices where the spec is silent:

* D4: empty `messages` is an error for sft, rft and cpt, a warning for preference (the shared
  context, spec 5.1) and for an empty `candidates[k].messages` (F4 asks only for an array;
  the quality rule `empty_candidate` rejects it in a build).
* D17: a media `ref` accepts only `asset_id` and `uri`; both at once is a warning.
* E rules in preference records: the context followed by each candidate is one branch, so
  `call_id` uniqueness (E4), answers (E5/E6) and unanswered calls (E7) are judged per branch.
* E2 is judged only when the toolset exists; a missing toolset is reported once, where it is
  named (D8 for a record, C5/A14 in the manifest).
* F10 also warns when `exact_match` grading has neither `answer` nor `answers`.
"""

from jsonl_assets.core.rules.context import RecordContext
from jsonl_assets.core.rules.table import ERROR, WARNING
from jsonl_assets.core.rules.vocabulary import json_type_name
from jsonl_assets.core.rules.walk_state import Problem
from jsonl_assets.core.rules.walker import content_problems, record_errors, record_problems

__all__ = [
    "ERROR",
    "WARNING",
    "Problem",
    "RecordContext",
    "content_problems",
    "json_type_name",
    "record_errors",
    "record_problems",
]
