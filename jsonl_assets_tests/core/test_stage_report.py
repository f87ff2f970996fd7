"""A stage report read back from its marker."""

from __future__ import annotations

from jsonl_assets.core.stage_report import ShardsDetails, StageReport


def test_a_marker_holding_a_dropped_field_still_loads() -> None:
    """Markers written before `removed_orphans` was dropped (it was always empty) are reused,
    not refused."""
    details = ShardsDetails(
        shards=[], reused_shards=0, accounting={}, content={}, toolsets=[], files=[]
    )
    report = StageReport(
        stage="shards", partition="cpt|train", records_in=0, records_out=0, details=details
    )
    data = report.to_json()
    data["extra"] = {**data["extra"], "removed_orphans": []}
    assert StageReport.from_json(data).details == details
