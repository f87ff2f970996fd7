"""Writes report.html and DATACARD.md beside the package (`<output.dir>-report/`), each
atomically through the store, after metadata.json was published. They are not inside the
package: metadata.json does not list them and `verify` would flag them as foreign files.
`report.stamp` names what they were made from; a build that publishes the same
metadata.json from the same config keeps them instead of drawing them again. The stamp is
written twice: first marked `writing` (before either file is replaced), then, after both,
as it is: a write killed midway leaves a `writing` stamp, never files without a stamp or a
stamp that vouches for files it did not see written. A build that writes no report
($JSONL_ASSETS_REPORT=0) removes a report of ours that is not of the metadata.json it
published (`retire_stale_report`): the folder never describes another package than the one
beside it; files without a stamp are not ours and are left alone. A report is never written
into a folder that holds files not ours (`check_report_dir`): any file when there is no
stamp of ours, and, under our stamp, a report.html or DATACARD.md not of the report's own
shape (a hand-written card put in place of ours). The same rule (`_foreign_names`) decides
what the removal takes and what is kept as current: a user's own report.html or DATACARD.md
there is never replaced nor removed, and the build says so (the package stays published; our
own files of an earlier package beside it are removed). A config of another dataset than the
package's (`package_files.check_dataset`, the build's rule) is refused before anything is
read or removed. An earlier package's report (a stamp naming another metadata.json, or
marked `writing`) is removed before the report is computed, so it is never left beside a new
package, not even by a report killed midway. Everything that can refuse (the quarantine
published with the package, shards that are not metadata.json's, a chart that cannot be
drawn) is computed before the `writing` stamp: a report that fails there leaves this
package's report as it is. A report that fails once its files are being replaced (a full
disk) removes the report beside the package (`ReportNotWritten`). The stamp and the files' heads are read bounded and
only from regular files (`verify_limits.open_regular`, O_NONBLOCK): a FIFO, a device or a
huge file named report.stamp is not ours, never a hang."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from jsonl_assets.core.config import PipelineConfig
from jsonl_assets.core.config.output_dirs import REPORT_SUFFIX, report_dir_of
from jsonl_assets.core.report.datacard import render_datacard
from jsonl_assets.core.report.html_report import charts_of, render_html
from jsonl_assets.core.report.measure_columns import report_enabled
from jsonl_assets.core.report.report_data import compute_report, embedded_data
from jsonl_assets.core.report.statistics import MANIFEST, MeasuredCells
from jsonl_assets.core.stage_report import StageError
from jsonl_assets.core.stages.manifest_stage import ManifestResult
from jsonl_assets.core.store.atomic_files import is_partial_name
from jsonl_assets.core.store.base import read_bytes, store_for, write_bytes
from jsonl_assets.core.store.package_files import check_dataset
from jsonl_assets.core.store.url import StoreURL
from jsonl_assets.core.verify.verify_limits import Unreadable, open_regular

REPORT_HTML: Final = "report.html"
DATACARD: Final = "DATACARD.md"
DIR_SUFFIX: Final = REPORT_SUFFIX
STAMP: Final = "report.stamp"
# The shapes of the report's own files: only such files are ever removed.
_STAMP_SHAPE: Final = re.compile(rb"\A(writing )?[0-9A-Za-z.]+ [0-9a-f]{64} [0-9a-f]{64}\n\Z")
WRITING: Final = b"writing "  # the stamp's mark while the report's files are being replaced
_HEADS: Final = {
    REPORT_HTML: b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Data report: ',
    DATACARD: b"# Dataset card: ",
}
# Part of the stamp: bump it when the report's content changes. 2: licences as written, the
# card's facts from metadata.json; 3: the rates and thresholds the build's checks judged by;
# 4: values escaped in the card, grading types bounded as the licences (an `other` count);
# 5: words split on White_Space only (blank_text.count_words); 6: values from the data shown
# visibly in report.html and its charts (markdown_text.visible_value, as in the card), spaces
# that would not show escaped in both, the licence "" written `empty string`; 7: default-
# ignorable and blank characters escaped too, the card's configured values (licences, tags,
# id, contact) in code spans, the empty string `""` and a value's `"` escaped where unfenced;
# 8: the mixture chart bounded (the largest sources and one `other` bar); 9: words GFM would
# autolink (`www.`, `://`, e-mail) in code spans, a licence or grading type past 200
# characters counted by its digest (two that differ past 200 stay two), the card's count of
# records with their own licence exact when `other` cannot hold the source's; 10: length
# means to two decimals, as shown (rounded to one, 4/3 read 1.30); 11: the mixture table has
# the package and per-split rows too, as the chart.
REPORT_VERSION: Final = "11"
_STAMP_BYTES: Final = 256  # more than any stamp of ours: a longer file is not one
# A report.html found beside the package that is larger than this is drawn again.
MAX_HTML_BYTES: Final = 256 << 20


def _read_head(path: Path | StoreURL, size: int) -> bytes | None:
    """At most `size` bytes from the start of `path` if it is a regular file (None if it is
    missing or is not one: a FIFO is opened without blocking and refused)."""
    try:
        handle, _ = open_regular(path, None)  # type: ignore[arg-type]
    except Unreadable:
        return None
    with handle:
        return handle.read(size)


def _read_stamp(folder: Path | StoreURL) -> bytes | None:
    """report.stamp in `folder` if it is one of ours (the report's shape), else None."""
    stamp = _read_head(folder / STAMP, _STAMP_BYTES + 1)
    return stamp if stamp is not None and _STAMP_SHAPE.match(stamp) else None


def report_dir(cfg: PipelineConfig) -> Path | StoreURL:
    """Where the report goes: a folder beside the package, named after it (a local folder
    or an object-storage prefix alike)."""
    return report_dir_of(cfg.output.dir)


class ReportDirNotOurs(Exception):
    """The report dir holds files this project did not write (no report.stamp of ours)."""


class ReportNotWritten(Exception):
    """The report failed once begun; the report beside the package was removed."""


def _is_ours(path: Path | StoreURL, name: str) -> bool:
    """Whether the report file `name` at `path` is of the report's own shape (its head)."""
    head = _HEADS[name]
    return _read_head(path, len(head)) == head


def _foreign_names(folder: Path | StoreURL) -> tuple[list[str], bool]:
    """The names in the report dir that are not ours, and whether its stamp is ours. Without
    a stamp of ours every file is someone else's (ours are only ever written under it:
    `write_report` writes it first); under it, a report.html or DATACARD.md is ours only if
    it is of the report's own shape. Leftovers of a killed write (`.<name>.partial`) are
    ours."""
    store = store_for(folder)
    names = sorted(e.name for e in store.list(folder) if not is_partial_name(e.name))
    if not names or STAMP not in names or _read_stamp(folder) is None:
        return names, False
    return [n for n in names if n in _HEADS and not _is_ours(folder / n, n)], True


def check_report_dir(cfg: PipelineConfig) -> None:
    """`ReportDirNotOurs` unless every file of the report dir we would replace is ours
    (`_foreign_names`). Then the files not ours stay as they are; ours there of an earlier
    package (a stamp naming another metadata.json) are removed, so they do not stay beside
    this package under a stamp that no longer describes it."""
    folder = report_dir(cfg)
    names, stamped = _foreign_names(folder)
    if not names:
        return
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    why = "not of the report's own shape" if stamped else f"no {STAMP} of ours"
    removed = retire_stale_report(cfg) if stamped else []
    gone = f"; our report of an earlier package there was removed ({', '.join(removed)})"
    raise ReportDirNotOurs(
        f"{folder} holds files this project did not write ({shown}; {why}), so they are "
        f"left as they are: move them out of {folder} (or remove them), then `jsonl-assets "
        f"report --config {cfg.path}` writes the report{gone * bool(removed)}"
    )


@dataclass(frozen=True)
class ReportResult:
    html: Path
    datacard: Path
    data: dict[str, Any]
    svgs: dict[str, str | None]  # the charts by name (charts.draw_all), as report.html has them


def write_report(
    cfg: PipelineConfig, workers: int = 1, measured: MeasuredCells | None = None
) -> ReportResult:
    """Compute the published package's statistics and write its report and data card (the
    same bytes for the same package, whoever writes them: the build or `jsonl-assets report`);
    its shards measured (but those of the cells the build measured, `measured`) and its
    charts drawn on up to `workers` processes. Touching nothing: `OtherDatasetError` when the
    package is another dataset's (`check_dataset`, as the build decides), `ReportDirNotOurs`
    when the report dir holds files that are not ours (`check_report_dir`). Then an earlier
    package's report is removed (`retire_stale_report`) and the report is computed: a
    failure there (`ReportNotWritten`) leaves this package's report as it is. A failure while
    the files are replaced removes the report beside the package (report.html and
    DATACARD.md of ours and the stamp) and raises `ReportNotWritten`."""
    check_dataset(cfg.output.dir, cfg.output.work_dir, cfg.dataset.name)
    check_report_dir(cfg)  # before anything is computed or written
    stamp = report_stamp(cfg)  # before reading: a later publication makes it stale
    folder = report_dir(cfg)
    retired = retire_stale_report(cfg)  # never beside this package, even if killed below
    try:
        result = _compute(cfg, folder, workers, measured)
    except Exception as exc:
        if retired:
            kept = (
                f"the report of an earlier package in {folder} was removed ({', '.join(retired)})"
            )
        elif report_files(cfg):
            kept = f"the report of this package in {folder} was left as it is"
        else:
            kept = "nothing was written"
        raise ReportNotWritten(f"{_said(exc)}; {kept}") from exc
    try:
        write_bytes(folder / STAMP, WRITING + stamp)  # a kill from here on leaves it marked
        return _write_files(folder, stamp, result)
    except Exception as exc:
        removed = _remove_report(folder)
        gone = f"{', '.join(removed)} removed" if removed else "nothing of it is left"
        raise ReportNotWritten(
            f"{_said(exc)}; the report in {folder} was removed rather than "
            f"left beside this package ({gone})"
        ) from exc


def _said(exc: Exception) -> str:
    return str(exc) if isinstance(exc, StageError) else f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class _Computed:
    result: ReportResult
    page: bytes
    card: bytes


def _compute(
    cfg: PipelineConfig, folder: Path | StoreURL, workers: int, measured: MeasuredCells | None
) -> _Computed:
    """The report's data, charts and files' bytes: every check that can refuse (the published
    quarantine there, the shards metadata.json's, a chart drawn) runs here, before anything
    is written."""
    from jsonl_assets.core.report.charts import draw_all  # matplotlib: imported when drawing

    data = compute_report(cfg.output.dir, cfg.output.quarantine_dir, workers, measured)
    svgs = draw_all(data, workers)
    result = ReportResult(folder / REPORT_HTML, folder / DATACARD, data, svgs)
    return _Computed(result, render_html(data, svgs), render_datacard(cfg, data))


def _write_files(folder: Path | StoreURL, stamp: bytes, computed: _Computed) -> ReportResult:
    write_bytes(computed.result.html, computed.page)
    write_bytes(computed.result.datacard, computed.card)
    write_bytes(folder / STAMP, stamp)
    return computed.result


def report_files(cfg: PipelineConfig) -> list[str]:
    """The names of the report's files beside the package now."""
    folder = report_dir(cfg)
    store = store_for(folder)
    return [n for n in (REPORT_HTML, DATACARD, STAMP) if store.stat(folder / n) is not None]


def retire_stale_report(cfg: PipelineConfig) -> list[str]:
    """Remove our report beside the package unless its stamp names the published
    metadata.json (a build without a report must not leave an earlier package's card and
    figures beside a new package): report.html and DATACARD.md when they are of the report's
    own shape, then report.stamp (last: a removal cut short is finished next time). A stamp
    marked `writing` (a report write killed midway) is removed with its files whatever it
    names. No stamp, or one not of the report's shape: the files are not ours (ours are
    always written under their stamp) and the folder is left alone. Returns the paths
    removed."""
    folder = report_dir(cfg)
    stamp = _read_stamp(folder)
    if stamp is None or stamped_for(cfg, stamp):
        return []
    return _remove_report(folder)


def _remove_report(folder: Path | StoreURL) -> list[str]:
    """Remove report.html and DATACARD.md of the report's own shape, then report.stamp, if
    the stamp is ours (else nothing: the files are not ours). The paths removed."""
    if _read_stamp(folder) is None:
        return []
    store = store_for(folder)
    removed = []
    for name in _HEADS:
        path = folder / name
        if _is_ours(path, name):
            store.remove(path)
            removed.append(str(path))
    store.remove(folder / STAMP)
    removed.append(str(folder / STAMP))
    return removed


def no_report_note(cfg: PipelineConfig, before: list[str]) -> str:
    """What a build without a report ($JSONL_ASSETS_REPORT=0) left beside the package, given
    the report's files there `before` it published (`report_files`): what was removed, and
    what is left."""
    folder = report_dir(cfg)
    left = report_files(cfg)
    removed = [name for name in before if name not in left]
    gone = f"; the report of the earlier package ({', '.join(removed)}) was removed" * bool(removed)
    if left:
        why = "its stamp names this metadata.json" if stamped_for(cfg) else "not the report's files"
        left_as = "left as it is" if len(left) == 1 else "left as they are"
        kept = f"{', '.join(left)} in {folder} {left_as}" if removed else f"{folder} is kept"
        return f"report: not written ($JSONL_ASSETS_REPORT=0){gone}; {kept} ({why})"
    return (
        f"report: not written ($JSONL_ASSETS_REPORT=0){gone}; `jsonl-assets report --config "
        f"{cfg.path}` writes {folder}"
    )


def stamped_for(cfg: PipelineConfig, stamp: bytes | None = None) -> bool:
    """Whether report.stamp (`stamp`, if read already) names the published metadata.json, and
    is complete (not marked `writing`)."""
    if stamp is None:
        stamp = _read_stamp(report_dir(cfg))
    if stamp is None or not _STAMP_SHAPE.match(stamp):
        return False
    manifest = hashlib.sha256(read_bytes(cfg.output.dir / MANIFEST)).hexdigest().encode()
    fields = stamp.split()
    return len(fields) == 3 and fields[1] == manifest


def report_stamp(cfg: PipelineConfig) -> bytes:
    """What the report is made of: the report's version, metadata.json's sha256 (it pins every
    shard and the accounting) and the config's fingerprint (the card's source)."""
    manifest = hashlib.sha256(read_bytes(cfg.output.dir / MANIFEST)).hexdigest()
    return f"{REPORT_VERSION} {manifest} {cfg.fingerprint()}\n".encode()


def current_report(cfg: PipelineConfig) -> ReportResult | None:
    """The report already beside the package, if its stamp matches the package and config."""
    folder = report_dir(cfg)
    html, card = folder / REPORT_HTML, folder / DATACARD
    store = store_for(folder)
    if store.stat(html) is None or store.stat(card) is None:
        return None
    if _read_stamp(folder) != report_stamp(cfg) or not _is_ours(card, DATACARD):
        return None  # a card not ours (a hand-written one) is not kept as the report's
    page = _read_head(html, MAX_HTML_BYTES + 1)
    if page is None or len(page) > MAX_HTML_BYTES or not page.startswith(_HEADS[REPORT_HTML]):
        return None
    try:
        return ReportResult(html, card, embedded_data(page), charts_of(page))
    except ValueError:  # not a whole report of ours after all: it is written again
        return None


def warm_up_report() -> None:
    """Import the chart code ahead of a publication (matplotlib takes ~0.5 s), e.g. on a
    core that would idle meanwhile; nothing when the build writes no report."""
    if report_enabled():
        import jsonl_assets.core.report.charts  # noqa: F401


def report_after_publication(
    cfg: PipelineConfig,
    result: ManifestResult,
    workers: int = 1,
    measured: MeasuredCells | None = None,
) -> ReportResult | None:
    """The build's hook: the report of a package whose metadata.json was just published
    (None when it was not, or when $JSONL_ASSETS_REPORT is "0": then a report of another
    metadata.json is removed)."""
    if not result.published:
        return None
    if not report_enabled():
        retire_stale_report(cfg)
        return None
    return current_report(cfg) or write_report(cfg, workers, measured)
