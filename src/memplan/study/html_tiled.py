"""The ``tiled`` stage in the study report and the terminal: per cell the untiled and tiled
arena, the MACs overhead and the split/grid, and which models fit only thanks to tiling.

"Fits only when tiled" is judged two ways, each where the study gives what it needs:

- against a **budget**: the tiled cell of that budget fits it (arena <= budget) while the
  untiled arena (``untiled_bytes``) does not;
- on a **device**: the tiled cell's plan fits the device (``fits_device``) while the
  ``order`` cell's plan of the same model, dtype and device does not (needs the ``order``
  stage in the study).
"""
from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Sequence

from ..units import format_size

STAGE = "tiled"


def tiled_cells(cells: Sequence[dict]) -> list[dict]:
    return [c for c in cells if c["stage"] == STAGE]


def only_when_tiled(cells: Sequence[dict]) -> dict[str, list[str]]:
    """Scope (``budget 512 KiB int8`` or ``device cortex-m7 int8``) -> the models that fit
    there only when tiled (sorted). Every scope the study has appears, even when empty."""
    out: dict[str, set] = defaultdict(set)
    order = {(c["model"], c["dtype"], c["device"]): c for c in cells if c["stage"] == "order" and c["status"] == "ok"}
    for c in tiled_cells(cells):
        budget_scope = f"budget {format_size(c['budget'])} {c['dtype']}"
        out.setdefault(budget_scope, set())  # the scope is listed even when no model fits only tiled
        ok = c["status"] == "ok"
        if ok and c["untiled_bytes"] is not None and c["arena_bytes"] <= c["budget"] < c["untiled_bytes"]:
            out[budget_scope].add(c["model"])
        if c["device"] != "-" and c["fits_device"] is not None:
            untiled = order.get((c["model"], c["dtype"], c["device"]))
            if untiled is None or untiled["fits_device"] is None:
                continue
            device_scope = f"device {c['device']} {c['dtype']} (budget {format_size(c['budget'])})"
            out.setdefault(device_scope, set())
            if ok and c["fits_device"] and not untiled["fits_device"]:
                out[device_scope].add(c["model"])
    return {scope: sorted(models) for scope, models in out.items()}


def describe(c: dict) -> str:
    """The split and grid (``n46 3x3``) or the note (``fits untiled``, ``untiled: ...``)."""
    if c["status"] != "ok":
        return "failed: " + (c["error"] or "")
    return c["tiling"] or c["note"] or ""


def brief(cells: Sequence[dict], model: str, dtype: str) -> str:
    """The terminal table's note for the smallest tiled arena of ``model``: ``n46 3x3 +6%``,
    ``untiled`` or ''."""
    ok = [c for c in tiled_cells(cells) if c["model"] == model and c["dtype"] == dtype and c["status"] == "ok"]
    if not ok:
        return ""
    c = min(ok, key=lambda c: (c["arena_bytes"], c["budget"]))
    return f"{c['tiling']} {c['macs_overhead']:+.0%}" if c["tiling"] else "untiled"


def tiled_lines(cells: Sequence[dict]) -> list[str]:
    """Terminal lines: one per scope of `only_when_tiled`."""
    return [f"fits only when tiled ({scope}): {len(models)} model(s)" + (": " + ", ".join(models) if models else "")
            for scope, models in only_when_tiled(cells).items()]


def tiled_section(cells: Sequence[dict]) -> str:
    """The report's ``Tiling`` section ('' when the study has no tiled stage)."""
    esc = html.escape
    rows = {}
    for c in tiled_cells(cells):  # one row per model, dtype and budget (the plan is the device's)
        key = (c["model"], c["dtype"], c["budget"])
        rows.setdefault(key, dict(c))
        if c["device"] != "-":
            rows[key].setdefault("_devices", []).append(c)
    if not rows:
        return ""
    scopes = only_when_tiled(cells)
    lists = "".join(f"<li>{esc(scope)}: <b>{len(models)}</b>" + (": " + esc(", ".join(models)) if models else "")
                    + "</li>" for scope, models in scopes.items())
    body = []
    for (model, dtype, budget), c in sorted(rows.items()):
        ok = c["status"] == "ok"
        arena, untiled = c["arena_bytes"], c["untiled_bytes"]
        ratio = untiled / arena if ok and untiled and arena else 0
        fits = ok and arena <= budget
        macs = c["macs_overhead"]
        macs_text = f"{macs:+.1%}" if macs is not None else ""
        devices = " ".join(("✓ " if d["fits_device"] else "✗ ") + esc(d["device"]) for d in c.get("_devices", [])
                           if d["fits_device"] is not None)
        body.append(f"<tr><td>{esc(model)}</td><td>{esc(dtype)}</td><td data-v=\"{budget}\">{format_size(budget)}</td>"
                    f'<td data-v="{untiled or -1}">{format_size(untiled) if untiled else ""}</td>'
                    f'<td data-v="{arena if ok else -1}" class="{"ok" if fits else "bad"}">'
                    f'{format_size(arena) + (" ✓" if fits else " ✗") if ok else "failed"}</td>'
                    f'<td data-v="{ratio:.3f}">{f"{ratio:.2f}x" if ratio else ""}</td>'
                    f'<td data-v="{macs if macs is not None else -1}">{macs_text}</td>'
                    f"<td>{esc(describe(c))}</td><td>{devices}</td></tr>")
    return ("<h2>Tiling (patch-based execution)</h2>"
            "<p>The <code>tiled</code> stage: per budget, the least-overhead tiling whose arena fits it, else the "
            "smallest tiled arena within the MACs limit; models the tiling cannot handle keep their untiled plan "
            "(the reason is given).</p>"
            f'<h3>Fits only when tiled</h3><ul id="only-tiled">{lists}</ul>'
            '<table id="tiled" class="sortable"><thead><tr><th>model</th><th>dtype</th><th data-type="num">budget</th>'
            '<th data-type="num">untiled</th><th data-type="num">tiled</th><th data-type="num">untiled / tiled</th>'
            '<th data-type="num">MACs</th><th>split, grid</th><th>devices (tiled plan)</th></tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")
