"""DATACARD.md: the common dataset-card headings (summary, sources with licences, collection
and processing, splits, known limitations, quality checks), written from the report's data:
the published metadata.json (the dataset, its sources, the files read, the accounting) and
the records as written (counts, licences); nothing in it is typed by hand. The rate checks
are the build's: its counts and the thresholds it judged by, as metadata.json records them.
Settings that metadata.json does not record (globs, read and adapter options, quality rules,
split ratios, shard sizes) are the pipeline config's when the card is written, and the card
says so, as it marks the config's thresholds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from jsonl_assets.core.config import PipelineConfig, SourceConfig
from jsonl_assets.core.file_names import shown
from jsonl_assets.core.named_list import NAMED, some_names
from jsonl_assets.core.readers import infer_format
from jsonl_assets.core.report.licences import LicenceCounts, licences_by_source
from jsonl_assets.core.report.markdown_text import Md, md_code, md_table, md_text
from jsonl_assets.core.report.record_measures import DEFINITIONS
from jsonl_assets.core.rules.rate_checks import RateCount, RateLimits, evaluate_accounting
from jsonl_assets.core.rules.reject_reasons import RATES, THRESHOLD_KEYS
from jsonl_assets.core.rules.spec_vocabulary import SCHEMA_VERSION, SPLITS
from jsonl_assets.core.store.url import is_url

NOT_STATED: Final = "not stated"
AT_REPORT: Final = "config at report time"


def _table_code(value: Any) -> Md:
    return md_code(value, in_table=True)


def _value(value: Any) -> str:
    """A configured or recorded value (a licence, a tag, an id, a contact) as the card shows
    values (a code span: markdown_text.visible_value, as report.html), or `not stated`."""
    return md_code(value) if value else NOT_STATED


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "-"


def _written_by_source(data: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in data["cells"]:
        for name, v in c["sources"].items():
            out[name] = out.get(name, 0) + v["records"]
    return out


def rate_results(cfg: PipelineConfig, data: dict[str, Any]) -> list[list[Any]]:
    """Every rate check of every partition as the build decided it: evaluated by the build's
    own rate-check code (rate_checks.evaluate_accounting) on metadata.json's accounting and the
    thresholds it records. One row per partition, `failed/read[, unread/files files unread] =
    rate (max threshold)` per check over all its inputs (then each source on its own
    threshold), and the partition's result. A package whose metadata.json records no
    thresholds (an older build's) is judged by the config's, marked `config at report time`."""
    rows = []
    for row in data["accounting"]:
        key = row["partition"]
        recorded = "thresholds" in row
        judged = evaluate_accounting(key, row, RateLimits.of_config(cfg, key))
        limit = "max" if recorded else f"max, {AT_REPORT}"
        cells: list[Any] = [key]
        for check in RATES:
            result = judged[check]
            own = [f"{c.scope} {_rate_cell(c, f'own {limit}')}" for c in result.own_thresholds]
            cells.append("; ".join([_rate_cell(result.all_inputs, limit), *own]))
        passed = all(e.passed for e in judged.values())
        verdict = "passed" if passed else "FAILED"
        rows.append([*cells, verdict if recorded else f"{verdict} ({AT_REPORT})"])
    return rows


def _rate_cell(c: RateCount, limit: str) -> str:
    unread = f", {c.unread_files}/{c.files} files unread" if c.unread_files else ""
    rate = f"{c.rate:.2%}" if c.total or c.files else "-"
    return f"{c.failed}/{c.total}{unread} = {rate} ({limit} {c.threshold:.2%})"


def _threshold_text(limits: Mapping[str, float]) -> str:
    return ", ".join(f"{THRESHOLD_KEYS[r]} {limits[THRESHOLD_KEYS[r]]:g}" for r in RATES)


def threshold_lines(cfg: PipelineConfig, data: dict[str, Any]) -> list[str]:
    """What the rate table judges by: the thresholds the build recorded in metadata.json (per
    partition; a source's own beside it), and the config's at report time, marked so, with
    the partitions whose thresholds the config has changed since."""
    rows = data["accounting"]
    lines = []
    groups: dict[str, list[str]] = {}
    for r in rows:
        if "thresholds" in r:
            groups.setdefault(_threshold_text(r["thresholds"]), []).append(r["partition"])
    if groups:
        where = (
            [f"every partition: {next(iter(groups))}"]
            if len(groups) == 1 and sum(map(len, groups.values())) == len(rows)
            else [f"{', '.join(keys)}: {text}" for text, keys in groups.items()]
        )
        lines.append(
            f"- Rate thresholds the build judged by (metadata.json), {'; '.join(where)} (a "
            "source's own beside it in the table). The table's verdicts are the build's."
        )
    lines.append(f"- Global rate thresholds: {_global_text(cfg)} ({AT_REPORT}).")
    changed = []
    for r in rows:
        if "thresholds" not in r:
            continue
        now = RateLimits.of_config(cfg, r["partition"])
        then = RateLimits.of_accounting(r)
        assert then is not None
        names = set(then.sources) | set(now.sources)
        if now.partition != then.partition or any(
            now.of_source(n) != then.of_source(n) for n in names if n in r["sources"]
        ):
            changed.append(r["partition"])
    if changed:
        lines.append(
            f"- The config at report time sets other thresholds than the build judged by for "
            f"{', '.join(changed)} ({AT_REPORT}); the package was not judged by them."
        )
    return lines


def _global_text(cfg: PipelineConfig) -> str:
    return ", ".join(
        f"{THRESHOLD_KEYS[r]} {getattr(cfg.thresholds, THRESHOLD_KEYS[r]):g}" for r in RATES
    )


def render_datacard(cfg: PipelineConfig, data: dict[str, Any]) -> bytes:
    ds, totals, cells = data["dataset"], data["totals"], data["cells"]
    written = _written_by_source(data)
    files = data["source_files"]
    licences = licences_by_source(cells)
    compression = ", ".join(data.get("compression", [])) or "-"
    out = [f"# Dataset card: {md_text(ds.get('name'))}", "", "## Summary", ""]
    out += [md_text(ds.get("description"), line_start=True), ""]
    out += [
        f"- Dataset id: {_value(ds.get('dataset_id'))}",
        f"- Licence: {_value(ds.get('license'))} (the dataset's; each record's "
        "`metadata.license` is counted under Sources)",
        f"- Contact: {_value(ds.get('contact'))}",
        f"- Tags: {', '.join(map(md_code, ds.get('tags', []))) or 'none'}",
        f"- Format: {SCHEMA_VERSION} (JSONL shards, {compression} compression)",
        f"- Records: {totals['records']:,} in {totals['shards']:,} shards "
        f"({len(cells)} objective/split cells)",
        "",
        "## Sources",
        "",
        "As metadata.json lists them; the licences are those the published records carry "
        "(`metadata.license`: the record's own, or the source's configured licence where it had "
        "none), with their record counts.",
        "",
    ]
    rows = [
        [s["name"], s["objective"], s["split"], s["adapter"],
         Md(_files_cell(files, s["name"])),
         _table_code(s["license"]) if s.get("license") else NOT_STATED,
         Md(licences.get(s["name"], LicenceCounts()).describe(_table_code)),
         written.get(s["name"], 0),
         pct(written.get(s["name"], 0), totals["records"])]
        for s in data["sources"]
    ]  # fmt: skip
    header = ["source", "objective", "split", "adapter", "files", "configured licence",
              "licences written (records)", "records", "share"]  # fmt: skip
    out.append(md_table(header, rows))
    out += ["", "## Collection and processing", ""]
    out += _processing(cfg, data)
    out += ["", "## Splits", ""]
    out += _splits(cfg, cells)
    out += ["", "## Known limitations", ""]
    out += [f"- {line}" for line in limitations(cfg, data)]
    out += ["", "## Quality checks and results", ""]
    out += _quality(cfg, data)
    out += ["", "## Measures", ""]
    out += [f"- **{k}**: {v}" for k, v in DEFINITIONS.items()]
    out += ["", "Charts and per-cell statistics: `report.html` beside this card.", ""]
    return "\n".join(out).encode()


def _configured(cfg: PipelineConfig, name: str) -> SourceConfig | None:
    return next((s for s in cfg.sources if s.name == name), None)


def _pattern(pattern: str) -> str:
    """A source glob as the config wrote it (a local one's bytes shown as UTF-8)."""
    return pattern if is_url(pattern) else shown(pattern)


def _files_cell(files: list[dict[str, Any]], source: str) -> str:
    """The source's files read, the first `NAMED` of them (metadata.json lists them all)."""
    names = [_table_code(f["file"]) for f in files if f["source"] == source]
    listed = some_names(names)
    return (
        f"{listed} (metadata.json lists all {len(names):,})"
        if len(names) > NAMED
        else (listed or "none")
    )


def _formats(source: SourceConfig | None, names: list[str]) -> str:
    """The readers of the files read: the source's `format`, else their extensions'."""
    if source is not None and source.format:
        return md_text(source.format)
    found = set()
    for name in names:
        try:
            found.add(infer_format(name))
        except ValueError:
            found.add("?")
    return ", ".join(map(md_text, sorted(found))) or "-"


def _processing(cfg: PipelineConfig, data: dict[str, Any]) -> list[str]:
    sources = data["sources"]
    lines = [
        f"Files and counts are metadata.json's; what is marked ({AT_REPORT}) is the pipeline "
        "config's when this card was written (metadata.json does not record it; the card is "
        "written again when the config changes, see `report.stamp`).",
        "",
        "1. **Reading.** Each source's files, as metadata.json lists them, read by format "
        "(one reader per format):",
    ]
    for entry in sources:
        s = _configured(cfg, entry["name"])
        names = [f["file"] for f in data["source_files"] if f["source"] == entry["name"]]
        if s is None:
            setting = f"no longer in the config; format {_formats(None, names)}"
        else:
            read = f", read options {md_text(dict(s.read_options))}" if s.read_options else ""
            setting = (
                f"format {_formats(s, names)}; patterns "
                f"{', '.join(md_code(_pattern(p)) for p in s.patterns)}{read} ({AT_REPORT})"
            )
        lines.append(f"   - {md_code(entry['name'])}: {len(names)} file(s) read; {setting}")
    lines.append("2. **Adapters.** Each raw record is mapped to the spec's record shape:")
    for entry in sources:
        s = _configured(cfg, entry["name"])
        if s is None:
            detail = f" (options: not in the config now, {AT_REPORT})"
        else:
            options = (
                f" with options {md_text(dict(s.adapter_options))}" if s.adapter_options else ""
            )
            id_field = (
                f", id from {md_code(s.id_field)}" if s.id_field else ", id derived from content"
            )
            detail = f"{options}{id_field} ({AT_REPORT})"
        lines.append(f"   - {md_code(entry['name'])}: adapter {md_code(entry['adapter'])}{detail}")
    lines.append(
        "3. **Validation.** Every record is checked against the rules of "
        f"{SCHEMA_VERSION}; a failing record is quarantined with its reason and trace "
        f"(file, line). Spec warnings: {md_code(cfg.quality.spec_warnings)} ({AT_REPORT})."
    )
    for objective in dict.fromkeys(s["objective"] for s in sources):
        rules = cfg.quality.rules_for(objective)
        text = ", ".join(f"{md_code(r)}: {md_text(a)}" for r, a in rules) or "none"
        lines.append(f"   - quality rules for {md_text(objective)}: {text} ({AT_REPORT})")
    lines.append(
        "4. **Deduplication.** By record id within each partition: a record whose id was "
        "already written is quarantined as `duplicate_id`; an id in two splits stops the "
        "publication."
    )
    lines.append(
        "5. **Split assignment.** A source with a fixed `split` goes to that split; a "
        "`split: auto` source's records go by a hash of their id: "
        f"{100 * cfg.test_ratio:g}% test, {100 * cfg.validation_ratio:g}% validation, the "
        f"rest train ({AT_REPORT})."
    )
    o = cfg.output
    lines.append(
        f"6. **Sharding.** Shards per {o.shard_by} and split, {o.compression} "
        f"(level {o.level if o.level is not None else 'default'}), at most "
        f"{o.max_records_per_shard or 'unlimited'} records"
        + (f" and {o.max_bytes_per_shard:,} bytes" if o.max_bytes_per_shard else "")
        + f" per shard ({AT_REPORT}); metadata.json is published last, after the package "
        "verifier passed."
    )
    return lines


def _splits(cfg: PipelineConfig, cells: list[dict[str, Any]]) -> list[str]:
    objectives = list(dict.fromkeys(c["objective"] for c in cells))
    counts = {(c["objective"], c["split"]): c["records"] for c in cells}
    rows = []
    for split in SPLITS:
        values = [counts.get((o, split), 0) for o in objectives]
        rows.append([split, *values, sum(values)])
    ratios = (
        f"Configured for `split: auto` sources: validation {cfg.validation_ratio:g}, "
        f"test {cfg.test_ratio:g} ({AT_REPORT})."
    )
    return [md_table(["split", *objectives, "total"], rows), "", ratios]


def limitations(cfg: PipelineConfig, data: dict[str, Any]) -> list[str]:
    """Limitations that follow from the published package and the measured data."""
    out = []
    sources = data["sources"]
    licences = licences_by_source(data["cells"])
    if not data["dataset"].get("license"):
        out.append("The dataset's licence is not stated.")
    for s in sources:
        counts = licences.get(s["name"])
        if counts is None or not counts.records:
            continue
        configured = s.get("license")
        if counts.none:
            out.append(
                f"Licence not stated for {counts.none:,} of {counts.records:,} records of "
                f"{md_code(s['name'])} (no `metadata.license`)."
            )
        own = counts.other_than(configured) if configured else LicenceCounts()
        if own.records:
            # `other` records may carry the configured licence only when it sorts after
            # every kept one; else all of them carry another: the figure is exact.
            unsure = own.other if counts.other_may_hold(configured or "") else 0
            known = own.records - unsure
            many = f" (up to {own.records:,})" if unsure else ""
            out.append(
                f"{known:,}{many} of {counts.records:,} records of {md_code(s['name'])} carry "
                f"their own licence (`metadata.license`, kept), not the source's "
                f"{md_code(configured)}: {own.describe(md_code)}."
            )
    present = {(c["objective"], c["split"]) for c in data["cells"] if c["records"]}
    for objective in dict.fromkeys(s["objective"] for s in sources):
        missing = [s for s in SPLITS if (objective, s) not in present]
        if missing:
            out.append(f"{md_text(objective)} has no records in: {', '.join(missing)}.")
    written = _written_by_source(data)
    for s in sources:
        if not written.get(s["name"]):
            out.append(f"Source {md_code(s['name'])} contributed no records.")
    totals = data["totals"]
    if totals["quarantined"]:
        out.append(
            f"{totals['quarantined']:,} of {totals['read']:,} inputs "
            f"({pct(totals['quarantined'], totals['read'])}) were quarantined and are not in "
            "the package (reasons in report.html)."
        )
    if data.get("default_system"):
        out.append(
            "Prompt lengths leave out the package-wide default system prompt (`defaults.system`)."
        )
    out.append(
        "Duplicates are detected by exact record id only; near-duplicate or paraphrased "
        "content with different ids is not detected, within or across splits."
    )
    out.append("Word counts split on whitespace; they undercount languages written without spaces.")
    return out


def _quality(cfg: PipelineConfig, data: dict[str, Any]) -> list[str]:
    lines = [
        "- Package verification: passed (metadata.json is published only when the package "
        "verifier finds no error and no id is in two splits; `jsonl-assets verify` rechecks it)."
    ]
    lines += [*threshold_lines(cfg, data), ""]
    lines.append(
        md_table(
            ["partition", *RATES, "result"],
            rate_results(cfg, data),
        )
    )
    return lines
