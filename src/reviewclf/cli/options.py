"""Options shared by several commands (data reading), defined once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..io.labeled import FORMATS


def data_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """How to read labeled review files: format, columns, label mapping, encoding, bad-row policy."""
    options = [
        click.option("--format", "format_", type=click.Choice(FORMATS), default=None,
                     help="Input format (default: detected from the file)."),
        click.option("--text-column", default=None, help="Column/field holding the review text."),
        click.option("--label-column", default=None, help="Column/field holding the label."),
        click.option("--label-map", default=None, metavar="SPEC",
                     help="Map raw labels to names, e.g. '1=negative,2=negative,4=positive,5=positive'; "
                          "unmapped rows are dropped and counted."),
        click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of the input files."),
        click.option("--on-error", type=click.Choice(["raise", "skip"]), default="raise", show_default=True,
                     help="Stop at the first bad row, or skip and count bad rows."),
    ]
    for option in reversed(options):
        func = option(func)
    return func
