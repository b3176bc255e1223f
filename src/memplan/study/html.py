"""The study report: one self-contained HTML page from a study database.

``memplan report study.sqlite -o report.html`` reads the cells of the last run's settings
and writes, with every picture embedded as PNG data (no network, no external file):

- the **fit curve**: the fraction of models whose arena fits, against the budget (log
  scale), one line per stage (and dtype), the study's budgets marked with their shares;
- the **share table**: stage x budget;
- the **models table**: arena per stage (first dtype), lower bound, the gain of the best
  stage over ``naive``, sortable by any column (a few lines of inline JS; sorted by the
  ``order`` arena on load);
- the **device placements**: per device and stage, the share of models that fit, and per
  model whether the ``order`` plan fits each device and how (weight modes, spills, or the
  tier that is short);
- the **tiling** (``tiled`` stage, `html_tiled`): untiled and tiled arena, MACs overhead,
  split and grid per model and budget, and the models that fit only when tiled;
- each model's **memory picture** (x = step, y = address, one rectangle per buffer);
- the **failed cells** with their one-line errors.

`fit_figure` is also what ``memplan study --picture fit.png`` draws.
"""
from __future__ import annotations

import base64
import html
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from ..units import format_size
from .html_tiled import tiled_section

PICTURE_STAGE = "order"
DTYPE_RANK = {"fp32": 0, "fp16": 1, "int16": 2, "int8": 3}


@dataclass(frozen=True)
class StudyData:
    cells: list[dict]  # one dict per cell (the cells table's columns)
    budgets: tuple[int, ...]
    stages: tuple[str, ...]
    dtypes: tuple[str, ...]
    devices: tuple[str, ...]
    models: tuple[str, ...]
    pictures: dict  # (model hash, dtype) -> blob
    settings: dict
    runs: list[dict]


def load_study(db) -> StudyData:
    """The cells of the last run's settings and memplan version, and that run's grid."""
    run = db.last_run()
    if run is None:
        return StudyData([], (), (), (), (), (), {}, {}, [])
    cells = [dict(r) for r in db.cells()]
    grid = json.loads(run["grid"])
    seen = lambda key: tuple(dict.fromkeys(c[key] for c in cells))  # noqa: E731
    stages = tuple(s for s in grid["stages"] if s in seen("stage")) or seen("stage")
    dtypes = tuple(grid["dtypes"])
    return StudyData(cells, tuple(grid["budgets"]), stages, dtypes, seen("device"), seen("model"),
                     db.pictures(run["settings_key"], run["version"]), db.settings(run["settings_key"]),
                     [dict(r) for r in db.runs()])


def arenas(cells: Sequence[dict]) -> dict[tuple[str, str, str], int]:
    """(model, dtype, stage) -> arena bytes: a plan does not depend on the device. A stage
    that uses the budget (``tiled``) has a cell per budget: the smallest of their arenas."""
    out = {}
    for c in cells:
        if c["status"] == "ok":
            key = (c["model"], c["dtype"], c["stage"])
            out[key] = min(out.get(key, c["arena_bytes"]), c["arena_bytes"])
    return out


def series(cells: Sequence[dict]) -> dict[str, list[int]]:
    """Curve label -> the sorted arenas of the models where it planned. The label is the
    stage, with the dtype when the study has several (``int8`` stages carry their own)."""
    from .grid import STAGES

    per = arenas(cells)
    dtypes = {d for (_, d, s) in per if s not in ("int8", "real-int8")}
    out: dict[tuple, list[int]] = defaultdict(list)
    rank = {name: i for i, name in enumerate(STAGES)}
    for (model, dtype, stage), arena in per.items():
        label = stage if (len(dtypes) <= 1 or stage in ("int8", "real-int8")) else f"{stage} {dtype}"
        out[(rank.get(stage, len(rank)), DTYPE_RANK.get(dtype, 9), dtype, label)].append(arena)
    return {key[3]: sorted(out[key]) for key in sorted(out)}


def share(values: Sequence[int], budget: int) -> float:
    return sum(v <= budget for v in values) / len(values) if values else 0.0


def fit_figure(cells: Sequence[dict], budgets: Sequence[int], *, title: str = "fit curve"):
    """Fraction of models that fit against the budget, one step line per stage."""
    from ..report.picture import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    lines = series(cells)
    everything = [v for vs in lines.values() for v in vs] + list(budgets)
    lo, hi = max(min(everything, default=1) / 2, 1), max(everything, default=2) * 2
    for label, values in lines.items():
        xs = [lo] + values + [hi]
        ys = [0.0] + [(i + 1) / len(values) for i in range(len(values))] + [1.0]
        ax.step(xs, ys, where="post", label=f"{label} ({len(values)} models)", linewidth=2)
    for b in budgets:  # the study's budgets; the share table gives the numbers
        ax.axvline(b, color="grey", linestyle="--", linewidth=1)
        ax.text(b, 1.01, format_size(b), ha="center", va="bottom", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(0, 1.08)
    ticks = [2 ** k for k in range(10, 40) if lo <= 2 ** k <= hi]
    ax.set_xticks(ticks, [format_size(t).replace(".00", "") for t in ticks], fontsize=8)
    ax.set_xlabel("budget (arena bytes)")
    ax.set_ylabel("fraction of models that fit")
    ax.set_title(title, loc="left")
    ax.grid(alpha=0.3)
    if lines:
        ax.legend(loc="lower right", fontsize=8)
    return fig


def memory_thumbnail(blob: bytes, title: str):
    """A small memory picture from a stored buffer layout (`study_grid.picture_blob`)."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    from .grid import picture_data
    from ..report.picture import _pyplot

    plt = _pyplot()
    data = picture_data(blob)
    fig, ax = plt.subplots(figsize=(4, 2.4), layout="constrained")
    cmap = plt.get_cmap("tab20")
    rects = [Rectangle((first - 0.5, off), last - first + 1, size) for off, size, first, last in data["buffers"]]
    ax.add_collection(PatchCollection(rects, facecolor=[cmap(i % 20) for i in range(len(rects))],
                                      edgecolor="black", linewidth=0.2))
    ax.set_xlim(-0.5, max(data["steps"], 1) - 0.5)
    ax.set_ylim(0, max(data["arena"], 1))
    ax.set_xlabel("step", fontsize=7)
    ax.set_ylabel("address", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.set_title(f"{title}: {format_size(data['arena'])}", fontsize=8, loc="left")
    return fig


def png_data(fig, dpi: int = 100) -> str:
    """The figure as a ``data:image/png;base64,...`` URI (and the figure closed)."""
    from ..report.picture import _pyplot

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    _pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def render(data: StudyData) -> str:
    """The whole page."""
    esc = html.escape
    parts = [_HEAD, f"<h1>memplan fit study</h1><p>{_summary(data)}</p>"]
    if not data.cells:
        parts.append("<p>The database holds no cells yet.</p>")
        return "".join(parts) + _TAIL
    parts.append(f'<h2>Fit curve</h2><img class="plot" id="fit-curve" alt="fit curve" '
                 f'src="{png_data(fit_figure(data.cells, data.budgets), dpi=110)}">')
    parts.append(_share_table(data))
    parts.append(_models_table(data))
    if any(d != "-" for d in data.devices):
        parts.append(_device_tables(data))
    parts.append(tiled_section(data.cells))
    parts.append(_pictures(data))
    failed = [c for c in data.cells if c["status"] != "ok"]
    if failed:
        rows = "".join(f"<tr><td>{esc(c['model'])}</td><td>{esc(c['device'])}</td><td>{esc(c['dtype'])}</td>"
                       f"<td>{esc(c['stage'])}</td><td>{esc(c['error'] or '')}</td></tr>" for c in failed)
        parts.append(f'<h2>Failed cells ({len(failed)})</h2><table id="failures"><tr><th>model</th><th>device</th>'
                     f"<th>dtype</th><th>stage</th><th>error</th></tr>{rows}</table>")
    return "".join(parts) + _TAIL


def _summary(data: StudyData) -> str:
    ok = sum(c["status"] == "ok" for c in data.cells)
    run = data.runs[-1] if data.runs else {}
    s = data.settings
    return html.escape(
        f"{len(data.models)} models x {len(data.devices)} devices x {len(data.dtypes)} dtypes x "
        f"{len(data.stages)} stages: {ok} cells ok, {len(data.cells) - ok} failed. memplan {run.get('version', '?')}, "
        f"allocator {s.get('algorithm', '?')}, order {s.get('order', '?')}, weights {s.get('weights', '?')}. "
        f"{len(data.runs)} run(s); last on {run.get('backend', '?')} with {run.get('workers', '?')} workers, "
        f"{run.get('wall_seconds') or 0:.1f} s, {run.get('skipped', 0)} cells reused from earlier runs.")


def _share_table(data: StudyData) -> str:
    lines = series(data.cells)
    head = "".join(f"<th>fits {format_size(b)}</th>" for b in data.budgets)
    rows = "".join(f"<tr><td>{html.escape(k)}</td>" + "".join(f"<td>{share(v, b):.0%}</td>" for b in data.budgets)
                   + "</tr>" for k, v in lines.items())
    return f'<h2>Share of models that fit</h2><table id="shares"><tr><th>stage</th>{head}</tr>{rows}</table>'


def _models_table(data: StudyData) -> str:
    per = arenas(data.cells)
    dtype = data.dtypes[0] if data.dtypes else "fp32"
    bounds = {(c["model"], c["stage"]): c["lower_bound_bytes"] for c in data.cells
              if c["status"] == "ok" and c["dtype"] == dtype}
    stages = list(data.stages)
    head = "".join(f'<th data-type="num">{html.escape(s)}</th>' for s in stages)
    rows = []
    for m in data.models:
        cells = []
        for s in stages:
            a = per.get((m, "int8" if s in ("int8", "real-int8") else dtype, s))
            marks = "".join("✓" if a is not None and a <= b else "✗" for b in data.budgets) if a is not None else ""
            cells.append(f'<td data-v="{a if a is not None else -1}">'
                         f'{format_size(a) + " " + marks if a is not None else "failed"}</td>')
        lb = bounds.get((m, "order"))
        naive, best = per.get((m, dtype, "naive")), min((per[(m, dtype, s)] for s in stages if (m, dtype, s) in per),
                                                         default=None)
        gain = naive / best if naive and best else 0
        rows.append(f"<tr><td>{html.escape(m)}</td>{''.join(cells)}"
                    f'<td data-v="{lb or -1}">{format_size(lb) if lb else ""}</td>'
                    f'<td data-v="{gain:.3f}">{f"{gain:.1f}x" if gain else ""}</td></tr>')
    sort_col = 1 + stages.index("order") if "order" in stages else 1
    return (f'<h2>Models ({len(data.models)}, {html.escape(dtype)}; click a column to sort)</h2>'
            f'<table id="models" class="sortable" data-sort="{sort_col}"><thead><tr><th>model</th>{head}'
            f'<th data-type="num">lower bound</th><th data-type="num">naive / smallest</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _device_tables(data: StudyData) -> str:
    devices = [d for d in data.devices if d != "-"]
    fits: dict[tuple[str, str], list[bool]] = defaultdict(list)
    by_model: dict[tuple[str, str, str], dict] = {}
    for c in data.cells:
        if c["status"] == "ok" and c["fits_device"] is not None:
            label = c["stage"] if c["stage"] in ("int8", "real-int8") else f"{c['stage']} {c['dtype']}"
            fits[(label, c["device"])].append(bool(c["fits_device"]))
        by_model[(c["model"], c["device"], c["stage"] + " " + c["dtype"])] = c
    labels = sorted({k[0] for k in fits}, key=lambda x: (x.split()[0] not in data.stages, x))
    head = "".join(f"<th>{html.escape(d)}</th>" for d in devices)
    rows = "".join(f"<tr><td>{html.escape(label)}</td>" + "".join(
        f"<td>{sum(fits[(label, d)]) / len(fits[(label, d)]):.0%}</td>" if fits.get((label, d)) else "<td></td>"
        for d in devices) + "</tr>" for label in labels)
    dtype = data.dtypes[0] if data.dtypes else "fp32"
    stage = PICTURE_STAGE if PICTURE_STAGE in data.stages else data.stages[-1]
    detail = []
    for m in data.models:
        tds = []
        for d in devices:
            c = by_model.get((m, d, f"{stage} {dtype}"))
            if c is None:
                tds.append("<td></td>")
            elif c["status"] != "ok":
                tds.append(f'<td class="bad">failed: {html.escape(c["error"] or "")}</td>')
            else:
                mark = "✓" if c["fits_device"] else "✗"
                tds.append(f'<td class="{"ok" if c["fits_device"] else "bad"}">{mark} {html.escape(c["placement"])}'
                           f"{', ' + format_size(c['bytes_moved']) + ' moved' if c['bytes_moved'] else ''}</td>")
        detail.append(f"<tr><td>{html.escape(m)}</td>{''.join(tds)}</tr>")
    return (f'<h2>Device placements</h2><p>Share of models whose plan fits each device (fast tier, weights and '
            f'spills placed by memplan):</p><table id="device-shares"><tr><th>stage</th>{head}</tr>{rows}</table>'
            f"<p>The '{html.escape(stage)}' plan ({html.escape(dtype)}) on each device: R resident, S streamed, "
            f"P read in place.</p><table id=\"placements\"><tr><th>model</th>{head}</tr>{''.join(detail)}</table>")


def _pictures(data: StudyData) -> str:
    names = {c["model_hash"]: c["model"] for c in data.cells}
    dtype = data.dtypes[0] if data.dtypes else "fp32"
    figures = []
    for m_hash, model in names.items():
        blob = data.pictures.get((m_hash, dtype))
        if blob:
            src = png_data(memory_thumbnail(blob, model), dpi=60)
            figures.append(f'<figure><img class="memory" alt="memory picture of {html.escape(model)}" src="{src}">'
                           f"<figcaption>{html.escape(model)}</figcaption></figure>")
    if not figures:
        return ""
    return (f"<h2>Memory pictures ('{PICTURE_STAGE}' plan, {html.escape(dtype)})</h2>"
            f'<div class="gallery">{"".join(figures)}</div>')


_HEAD = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>memplan fit study</title><style>
body{font-family:sans-serif;margin:2em;color:#222;background:#fff}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}
td:first-child,th:first-child{text-align:left}
th{background:#eef;cursor:pointer}.ok{background:#e6f6e6}.bad{background:#fbe9e9}
.gallery{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}figcaption{font-size:11px}img.plot{max-width:100%}
</style></head><body>"""
# Sorting: click a header to sort by it (numbers by data-v), again to reverse; on load the
# models table sorts by its data-sort column, largest first. body.dataset.images counts the
# pictures the browser decoded (the report test reads it).
_TAIL = """<script>
function sortTable(t, col, desc) {
  const body = t.tBodies[0], rows = Array.from(body.rows);
  const num = t.tHead.rows[0].cells[col].dataset.type === "num";
  const key = r => num ? parseFloat(r.cells[col].dataset.v) : r.cells[col].textContent;
  rows.sort((a, b) => { const x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : 0) * (desc ? -1 : 1); });
  rows.forEach(r => body.appendChild(r)); t.dataset.sorted = col + (desc ? " desc" : " asc");
}
document.querySelectorAll("table.sortable").forEach(t => {
  Array.from(t.tHead.rows[0].cells).forEach((th, i) => th.addEventListener("click",
    () => sortTable(t, i, t.dataset.sorted !== i + " desc")));
  if (t.dataset.sort) sortTable(t, parseInt(t.dataset.sort), true);
});
window.addEventListener("load", () => {
  document.body.dataset.images = Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length;
});
</script></body></html>"""
