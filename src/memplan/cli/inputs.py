"""`memplan inputs MODEL`: the real inputs and outputs (not the weights), with dims and dtypes."""
from __future__ import annotations

import click

from .common import _stdout, is_tflite, resolve_tflite, user_errors


@click.command("inputs")
@click.argument("model")
@user_errors
def inputs_command(model):
    """List MODEL's inputs and outputs (name, dims, dtype): the names --input-shape takes.

    Works on models with dynamic dims too (shown as their symbolic name or ?)."""
    from rich.table import Table
    from rich.text import Text

    from ..graph.model_io import model_ports
    from ..graph.zoo import resolve

    path, _ = resolve_tflite(model) if is_tflite(model) else resolve(model)
    inputs, outputs = model_ports(path, tflite=is_tflite(path) or is_tflite(model))
    table = Table(title=Text(f"{model}: inputs and outputs"), title_justify="left")
    for col in ("", "name", "dims", "dtype"):
        table.add_column(col)
    for kind, ports in (("input", inputs), ("output", outputs)):
        for p in ports:
            table.add_row(kind, Text(p.name), Text(p.dims_text), Text(p.dtype))  # Text: "[...]" is no markup
    out = _stdout()
    out.print(table)
    dynamic = [p for p in inputs if not p.is_static]
    if dynamic and not is_tflite(model):
        example = " ".join(f"--input-shape {p.name}=" + ",".join(str(d) if isinstance(d, int) else "N"
                                                                  for d in (p.dims or ("N",))) for p in dynamic)
        out.print(f"dynamic: plan with {example} (each N a number)", highlight=False, markup=False)
