"""The words every command shares: ``--budget`` for "fit this size", and "wrote PATH".

A size limit used to have a name per command (``alloc --capacity``, ``study --budgets``,
``pipeline --stage-memory``); ``--budget`` is now the one name, and the old ones stay as
hidden aliases so that existing scripts keep working.
"""
from __future__ import annotations

import click

from . import common

_META = "memplan.budget-alias"


def budget_option(help: str, *, aliases: tuple[str, ...] = (), default: str | None = None):
    """``--budget SIZE`` plus hidden ``aliases`` (old option names) that mean the same."""

    def decorate(fn):
        fn = click.option("--budget", "budget", default=None, metavar="SIZE", callback=_budget_value,
                          help=help + (f" [default: {default}]" if default else ""))(fn)
        for alias in aliases:
            fn = click.option(alias, f"budget_alias_{alias.strip('-').replace('-', '_')}", default=None,
                              hidden=True, expose_value=False, callback=_remember_alias)(fn)
        fn.__budget_default__ = default
        return fn

    def _budget_value(ctx, param, value):
        # Click processes the options given on the command line first, so an alias given
        # instead of --budget has already been remembered when --budget's default comes.
        if value is not None:
            return value
        return ctx.meta.get(_META, default)

    return decorate


def _remember_alias(ctx, param, value):
    if value is not None:
        ctx.meta[_META] = value


def wrote(path: str) -> None:
    """The one line every command prints for each file it wrote (to stderr for stdout itself)."""
    click.echo(f"wrote {path}", err=path == "-" or common._stdout_taken)
