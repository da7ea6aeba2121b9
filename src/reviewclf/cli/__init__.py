"""``reviewclf``: train, export, inspect and serve review classifiers.

Commands import the training/export packages inside their bodies, so ``reviewclf predict`` starts without
torch, and a missing ``[train]`` extra is one line of advice rather than a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import __version__
from ..errors import OptionError, ReviewclfError

TRAIN_EXTRA_HINT = "this command needs the training extra: pip install 'reviewclf[train]'"


class ReviewclfGroup(click.Group):
    """Turns every user-facing error into one line on stderr and a non-zero exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OptionError as exc:
            click.echo(f"error: {exc.naming(_flag_of(ctx, exc.param))}", err=True)
            sys.exit(1)
        except ReviewclfError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] in ("torch", "onnx", "onnxscript", "matplotlib"):
                click.echo(f"error: {TRAIN_EXTRA_HINT} (missing module {exc.name})", err=True)
                sys.exit(1)
            raise
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:
            sys.stderr.close()  # the reader of our stdout went away (e.g. `| head`): not an error
            sys.exit(0)


def _flag_of(ctx: click.Context, param: str) -> str:
    """The command-line flag that sets the library parameter ``param`` (the parameter's name if none does)."""
    command = ctx.command.get_command(ctx, ctx.invoked_subcommand) if ctx.invoked_subcommand else None
    for option in command.params if command is not None else []:
        if isinstance(option, click.Option) and (option.name or "").rstrip("_") == param:
            return max(option.opts, key=len)
    return param


@click.group(cls=ReviewclfGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reviewclf")
def main() -> None:
    """Train a review-sentiment classifier, export it as one portable bundle, and serve predictions."""


def _register() -> None:
    from . import bundle_commands, predict_command, train_command

    for module in (train_command, bundle_commands, predict_command):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
