"""The report's charts as SVG text, drawn by matplotlib offline and byte-identical for the
same data: fixed rcParams (font, hash salt), no date in the SVG, no pyplot global state.
Every text is drawn as it is: mathtext is off (`text.parse_math`), so a label from the data
(a grading type, a source, a reason) with `$` in it is neither parsed nor an error; a label
from the data is shown as report.html shows values (markdown_text.unfenced_value: an
invisible or bidi-control character, or a space that would not show, as an escape; a `"`
as `\\u0022` and the empty string as `""`, so no two values share a label)."""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from jsonl_assets.core.report.bounded_counts import OTHER_NOTE
from jsonl_assets.core.report.markdown_text import unfenced_value
from jsonl_assets.core.report.report_data import bin_labels, mixture_rows
from jsonl_assets.core.rules.spec_vocabulary import OBJECTIVES, SPLITS

RC: Final = {
    "svg.hashsalt": "jsonl-assets-report",
    "svg.fonttype": "none",  # text stays text: smaller, selectable
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 96.0,
    "path.simplify": False,
    "text.parse_math": False,  # labels come from the data: `$...$` is text, not maths
}
PALETTE: Final = (
    "#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2",
    "#b279a2", "#ff9da6", "#9d755d", "#bab0ac", "#eeca3b",
)  # fmt: skip
SPLIT_COLOURS: Final = dict(zip(SPLITS, PALETTE, strict=False))
WIDTH: Final = 9.0
METADATA: Final = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)


@contextmanager
def _style() -> Iterator[None]:
    """matplotlib's own defaults plus RC, whatever matplotlibrc the environment holds (the
    working dir's, $MATPLOTLIBRC, ~/.config/matplotlib): the charts are the same anywhere."""
    with matplotlib.rc_context(), warnings.catch_warnings():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(RC)
        # Text stays text in the SVG (the browser's fonts draw it): a character the layout
        # font lacks is no problem of the chart, and its warning, one per character per
        # draw, would flood the console.
        warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from", UserWarning)
        yield


def _svg(figure: Figure) -> str:
    out = io.StringIO()
    with _style():
        figure.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    text = text[text.index("<svg") :]  # inline: without the XML declaration and DOCTYPE
    return METADATA.sub("", text, count=1).strip()  # and without the RDF block (namespaces)


def _figure(rows: int, cols: int, height: float) -> tuple[Figure, list[Axes]]:
    with _style():
        figure = Figure(figsize=(WIDTH, height), layout="constrained")
        axes = figure.subplots(rows, cols, squeeze=False)
    return figure, [a for row in axes for a in row]


def _grouped(ax: Axes, labels: Sequence[str], series: dict[str, Sequence[float]]) -> None:
    """Bars of several series side by side (one colour per series) at each label."""
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
        colour = SPLIT_COLOURS.get(name, PALETTE[i % len(PALETTE)])
        ax.bar(xs, values, width=width, label=name, color=colour)
    ax.set_xticks(range(len(labels)), labels)


def _by_objective(cells: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for c in cells:
        out.setdefault(c["objective"], {})[c["split"]] = c
    return {o: out[o] for o in OBJECTIVES if o in out}


def records_chart(cells: list[dict[str, Any]]) -> str:
    objectives = _by_objective(cells)
    figure, (ax,) = _figure(1, 1, 2.6)
    series = {
        s: [objectives[o].get(s, {}).get("records", 0) for o in objectives]
        for s in SPLITS
        if any(s in v for v in objectives.values())
    }
    _grouped(ax, list(objectives), series)
    ax.set_ylabel("records")
    ax.set_title("Records per objective and split")
    ax.legend(title="split")
    return _svg(figure)


def length_chart(cells: list[dict[str, Any]], objective: str, edges: list[int]) -> str | None:
    """Histograms of prompt/response/document lengths (characters, words) per split."""
    splits = _by_objective(cells).get(objective, {})
    kinds = [
        k for k in ("prompt", "response", "document")
        if any(c["lengths"][k]["chars"]["count"] for c in splits.values())
    ]  # fmt: skip
    if not kinds:
        return None
    labels = bin_labels(edges)
    figure, axes = _figure(len(kinds), 2, 2.3 * len(kinds))
    for row, kind in enumerate(kinds):
        for col, unit in enumerate(("chars", "words")):
            ax = axes[row * 2 + col]
            used = [
                i for i in range(len(edges))
                if any(c["lengths"][kind][unit]["bins"][i] for c in splits.values())
            ]  # fmt: skip
            span = range(used[0], used[-1] + 1) if used else range(0)
            series = {
                s: [_share(c["lengths"][kind][unit], i) for i in span] for s, c in splits.items()
            }
            _grouped(ax, [labels[i] for i in span], series)
            ax.tick_params(axis="x", labelrotation=45, labelsize=7)
            step = max(1, len(span) // 14)  # at most ~14 labels: keep every step-th
            for n, tick in enumerate(ax.get_xticklabels()):
                tick.set_visible(n % step == 0)
            ax.set_title(
                f"{objective} {kind} length ({'characters' if unit == 'chars' else 'words'})"
            )
            ax.set_ylabel("% of the split's values")
    handles, names = axes[0].get_legend_handles_labels()
    figure.legend(handles, names, title="split", loc="outside upper right", ncols=len(names))
    return _svg(figure)


def _share(histogram: dict[str, Any], i: int) -> float:
    return 100 * histogram["bins"][i] / histogram["count"] if histogram["count"] else 0.0


def count_chart(cells: list[dict[str, Any]], key: str, title: str, xlabel: str) -> str | None:
    """Bars of a per-record count or category (`turns`, `candidates`, `grading_types`), one
    panel per objective that has any, one colour per split. A bounded category's records past
    the values kept (`<key>_other`, bounded_counts) are one last bar, `other`; a label is
    shortened past `LABEL_CHARS`."""
    other = f"{key}_other"
    objectives = {
        o: s
        for o, s in _by_objective(cells).items()
        if any(c[key] or c.get(other) for c in s.values())
    }
    if not objectives:
        return None
    figure, axes = _figure(1, len(objectives), 2.6)
    for ax, (objective, splits) in zip(axes, objectives.items(), strict=True):
        values = category_order({v for c in splits.values() for v in c[key]})
        rest = any(c.get(other) for c in splits.values())  # the `other` bar, last
        series = {
            s: _shares([c[key].get(v, 0) for v in values] + ([c.get(other, 0)] if rest else []))
            for s, c in splits.items()
        }
        _grouped(ax, [*map(_label, values), *([OTHER_LABEL] if rest else [])], series)
        ax.set_title(f"{objective}: {title}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("% of the split's records")
    handles = {n: h for ax in axes for h, n in zip(*ax.get_legend_handles_labels(), strict=True)}
    ordered = [s for s in SPLITS if s in handles]
    figure.legend([handles[s] for s in ordered], ordered, title="split", loc="outside upper right",
                  ncols=len(ordered))  # fmt: skip
    return _svg(figure)


_DIGITS: Final = re.compile(r"[0-9]+")
OTHER_LABEL: Final = f"other ({OTHER_NOTE})"
LABEL_CHARS: Final = 40


def _shares(counts: list[int]) -> list[float]:
    return [100 * n / max(sum(counts), 1) for n in counts]


def _label(value: str) -> str:
    """A category from the data as a tick label (markdown_text.unfenced_value: visible, its
    `"` escaped, the empty string `""`), shortened past `LABEL_CHARS`."""
    if len(value) <= LABEL_CHARS:
        return unfenced_value(value)
    return unfenced_value(value[:LABEL_CHARS]) + "…"


def _natural(value: str) -> tuple[int, int, str]:
    """ASCII numbers first, by value, then the rest; the value itself breaks every tie."""
    return (0, int(value), value) if _DIGITS.fullmatch(value) else (1, 0, value)


def category_order(values: Iterable[str]) -> list[str]:
    """The order of a chart's categories (`3`, `03` and `003` too), whatever order they came
    in (a set's iteration order differs between processes)."""
    return sorted(values, key=_natural)


def share_chart(cells: list[dict[str, Any]]) -> str:
    """Share of records with a tool call, per objective x split."""
    figure, (ax,) = _figure(1, 1, 2.4)
    labels = [f"{c['objective']}/{c['split']}" for c in cells]
    shares = [100 * c["tool_call_records"] / c["records"] if c["records"] else 0 for c in cells]
    ax.bar(range(len(labels)), shares, color=PALETTE[0])
    ax.set_xticks(range(len(labels)), labels, rotation=30)
    ax.set_ylabel("% of records")
    ax.set_title("Records with at least one tool call")
    return _svg(figure)


MIXTURE_SOURCES: Final = len(PALETTE)  # bars a mixture chart draws, `other` included
OTHER_COLOUR: Final = "#7f7f7f"


def mixture_sources(cells: list[dict[str, Any]], limit: int) -> tuple[list[str], list[str]]:
    """(the sources shown, by name; those shown together as `other`): every source when
    there are at most `limit`, else the `limit - 1` with the most records in the package
    (ties by name) and the rest as one, so a chart or table stays bounded however many
    sources the config has."""
    records: dict[str, int] = {}
    for c in cells:
        for source, v in c["sources"].items():
            records[source] = records.get(source, 0) + v["records"]
    if len(records) <= limit:
        return sorted(records), []
    top = sorted(records, key=lambda s: (-records[s], s))[: limit - 1]
    return sorted(top), sorted(set(records) - set(top))


def mixture_chart(cells: list[dict[str, Any]]) -> str:
    """Stacked bars of each source's share of records and of characters: the
    `MIXTURE_SOURCES - 1` largest sources and one `other` bar past `MIXTURE_SOURCES`."""
    sources, rest = mixture_sources(cells, MIXTURE_SOURCES)
    colours = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(sources)}
    labels = {s: unfenced_value(s) for s in sources}
    groups = {s: [s] for s in sources}
    if rest:
        groups[""] = rest
        colours[""] = OTHER_COLOUR
        labels[""] = f"other ({len(rest)} sources)"
    rows = mixture_rows(cells)[::-1]
    figure, axes = _figure(1, 2, 0.32 * len(rows) + 1.6)
    for ax, measure, title in zip(
        axes, ("records", "chars"), ("share of records", "share of characters"), strict=True
    ):
        left = [0.0] * len(rows)
        for key, members in groups.items():
            shares = []
            for _, sums in rows:
                total = sum(v[measure] for v in sums.values())
                value = sum(sums.get(s, {}).get(measure, 0) for s in members)
                shares.append(100 * value / total if total else 0.0)
            ax.barh(range(len(rows)), shares, left=left, color=colours[key], label=labels[key])
            left = [a + b for a, b in zip(left, shares, strict=True)]
        ax.set_yticks(range(len(rows)), [label for label, _ in rows])
        ax.set_xlim(0, 100)
        ax.set_xlabel("%")
        ax.set_title(f"Source mixture: {title}")
    figure.legend(
        *axes[0].get_legend_handles_labels(), title="source", loc="outside lower center", ncols=5
    )
    return _svg(figure)


def quarantine_chart(by_reason: dict[str, int]) -> str | None:
    if not by_reason:
        return None
    reasons = list(by_reason)[::-1]
    figure, (ax,) = _figure(1, 1, 0.3 * len(reasons) + 1.2)
    ax.barh(range(len(reasons)), [by_reason[r] for r in reasons], color=PALETTE[3])
    ax.set_yticks(range(len(reasons)), [unfenced_value(r) for r in reasons])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("records quarantined")
    ax.set_title("Quarantine reasons")
    return _svg(figure)


ChartJob = tuple[str, Callable[..., str | None], tuple[Any, ...]]  # name, drawing, its args


def _drawn(jobs: list[ChartJob]) -> dict[str, str | None]:
    with _style():
        return {name: draw(*args) for name, draw, args in jobs}


def draw_all(data: dict[str, Any], processes: int = 1) -> dict[str, str | None]:
    """Every chart of the report by name (None: nothing to draw). With `processes` 2 or more,
    a forked process draws the length histograms (about half of the work) meanwhile; each
    chart is drawn alone, so its bytes are the same either way."""
    cells = data["cells"]
    lengths: list[ChartJob] = [
        (f"lengths_{o}", length_chart, (cells, o, data["length_edges"]))
        for o in dict.fromkeys(c["objective"] for c in cells)
    ]
    rest: list[ChartJob] = [
        ("records", records_chart, (cells,)),
        ("turns", count_chart, (cells, "turns", "turns per conversation", "turns")),
        ("tool_calls", share_chart, (cells,)),
        ("candidates", count_chart, (cells, "candidates", "candidates per record", "candidates")),
        ("grading_types", count_chart, (cells, "grading_types", "grading types", "grading.type")),
        ("mixture", mixture_chart, (cells,)),
        ("quarantine", quarantine_chart, (data["quarantine"]["by_reason"],)),
    ]
    if processes < 2 or not lengths:
        svgs = {**_drawn(lengths), **_drawn(rest)}
    else:
        from jsonl_assets.core.build_workers import release_pool, result, submit, worker_pool

        pool = worker_pool(1, polars=False)
        try:
            drawing = submit(pool, _drawn, lengths)
            svgs = _drawn(rest)
            svgs.update(result(drawing))
        finally:
            release_pool(pool)
    order = ["records", *(name for name, _, _ in lengths), *(name for name, _, _ in rest)]
    return {name: svgs[name] for name in dict.fromkeys(order)}
