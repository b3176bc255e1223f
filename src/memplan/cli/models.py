"""`memplan zoo` and `memplan quantize`: the bundled models and their int8 versions."""
from __future__ import annotations

import click

from .common import _stdout, check_outputs, load_model, onnx_only, user_errors
from .vocabulary import wrote


@click.command("zoo")
@user_errors
def zoo_command():
    """List the bundled models: the ONNX model-zoo graphs inside the installed onnx wheel, and the
    MediaPipe .tflite models when make has unpacked them."""
    from rich.table import Table

    from ..graph.onnx import load
    from ..units import format_size
    from ..graph.zoo import MODELS, zoo_path

    table = Table(title="model zoo (inside the onnx wheel; use as zoo:NAME)", title_justify="left")
    for col in ("name", "nodes", "runtime ops", "weights", "activations"):
        table.add_column(col, justify="left" if col == "name" else "right")
    for name in MODELS:
        graph = load(zoo_path(name), name=f"zoo:{name}")
        nodes = len(graph.ops) + len(graph.const_ops)
        table.add_row(f"zoo:{name}", str(nodes), str(len(graph.ops)), format_size(graph.weight_bytes),
                      format_size(graph.activation_bytes))
    _stdout().print(table)
    mediapipe_table()


def mediapipe_table() -> None:
    """The MediaPipe models, read only as far as their inputs (a full import of fourteen
    fp16 models would take seconds); or how to get them."""
    import os

    from rich.table import Table
    from rich.text import Text

    from ..graph import mediapipe
    from ..graph.model_io import model_ports
    from ..units import format_size

    out = _stdout()
    if not mediapipe.available():
        out.print(f"mediapipe models: not unpacked (make does it: python -m memplan.graph.mediapipe fetch, "
                  f"from the {mediapipe.WHEEL} wheel)", highlight=False, markup=False)
        return
    table = Table(title="MediaPipe models (.tflite, unpacked by make; use as mediapipe:NAME)", title_justify="left")
    for col in ("name", "file", "inputs", "TFLite Micro"):
        table.add_column(col, justify="right" if col == "file" else "left")
    for name in mediapipe.MODELS:
        path = mediapipe.model_path(name)
        inputs, _ = model_ports(path, tflite=True)
        runs = "yes" if name in mediapipe.TFLM_MODELS else "no (MediaPipe custom ops)"
        table.add_row(f"mediapipe:{name}", format_size(os.path.getsize(path)),
                      Text(", ".join(f"{p.name} {p.dims_text}" for p in inputs)), runs)
    out.print(table)


@click.command("quantize")
@click.argument("model")
@click.option("--output", "-o", required=True, metavar="PATH", help="Where to write the QDQ int8 model (.onnx).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the random calibration inputs.")
@click.option("--samples", default=8, show_default=True, type=click.IntRange(1), help="Random calibration samples.")
@click.option("--calibration", default=None, metavar="NPZ",
              help="Calibration data: an .npz with one array per model input, samples first.")
@click.option("--no-preprocess", is_flag=True, help="Skip onnxruntime's quant_pre_process.")
@user_errors
def quantize_command(model, output, seed, samples, calibration, no_preprocess):
    """Quantise MODEL to a static QDQ int8 ONNX model (onnxruntime), then plan and verify it."""
    import os

    from rich.table import Table

    from ..errors import InputError
    from ..planner import plan
    from ..graph.quantize import fold_qdq, quantize_model, with_dtype
    from ..units import format_size

    onnx_only(model, "quantize", "a model that is already int8 (TFLite models usually are)")
    check_outputs(output=output)
    if output == "-" or (os.path.exists(output) and not os.path.isfile(output)):
        raise InputError(f"{output}: quantize plans the model it writes, so --output must be a file")
    notes = quantize_model(model, output, seed=seed, calibration=calibration, samples=samples,
                           preprocess=not no_preprocess)
    fp32 = load_model(model)
    qdq = load_model(output)
    rows = [("fp32 (as given)", fp32), ("int8 what-if (--dtype int8)", with_dtype(fp32, "int8")),
            ("QDQ model as written", qdq), ("QDQ model, Q/DQ fused", fold_qdq(qdq))]
    table = Table(title=f"memplan quantize: {model} -> {output}", title_justify="left")
    for col in ("graph", "ops", "weights", "arena", "lower bound"):
        table.add_column(col, justify="left" if col == "graph" else "right")
    for label, g in rows:
        p = plan(g)  # validated by the planner
        table.add_row(label, str(len(p.order)), format_size(p.weights_bytes), format_size(p.arena_bytes),
                      format_size(p.lower_bound_bytes))
    out = _stdout()
    out.print(table)
    source = "given data" if calibration else f"{notes['samples']} seeded random samples (seed {seed})"
    done = "done" if notes["preprocessed"] else "skipped"
    out.print(f"calibration: {source}; pre-processing: {done}" + (f" ({notes['note']})" if notes["note"] else ""),
              highlight=False, markup=False)
    wrote(output)
