"""The ``memplan`` command: a thin shell over the library, one module per command group.

Every user error is a `MemplanError`, printed as one line on stderr with exit code 2;
``plan --budget`` exits 3 when the arena does not fit. Each module imports what its command
needs inside the command, so that ``memplan --help`` starts fast.
"""
from __future__ import annotations

import sys

import click

from . import alloc, inputs, models, pipeline, plan, study, study_grid, targets, tile, verify
from .common import fail


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="memplan")
def app():
    """memplan: where every byte of a neural network lives on a small device."""


for command in (plan.plan_command, alloc.alloc_cli_command, verify.verify_command, models.zoo_command,
                models.quantize_command, study.study_command, targets.export_tflm_command,
                targets.verify_tflm_command, targets.emit_c_command, pipeline.pipeline_command,
                inputs.inputs_command, study_grid.report_command, tile.tile_command):
    app.add_command(command)


def main():
    """Click's usage errors become one line too, naming the command; --help still works."""
    try:
        code = app.main(prog_name="memplan", standalone_mode=False)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "memplan"
        fail(f"{where}: {exc.format_message()} (see '{where} --help')")
    except click.ClickException as exc:
        fail(exc.format_message())
    except click.Abort:
        fail("aborted", 130)
    sys.exit(code if isinstance(code, int) else 0)
