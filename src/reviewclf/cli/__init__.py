"""``reviewclf``: train, export, inspect and serve review classifiers.

Commands import the training/export packages inside their bodies, so ``reviewclf predict`` starts without
torch, and a missing ``[train]`` extra is one line of advice rather than a traceback.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from .. import __version__
from ..errors import OptionError, ReviewclfError

TRAIN_EXTRA_HINT = "this command needs the training extra: pip install 'reviewclf[train]'"


class ReviewclfGroup(click.Group):
    """Turns every user-facing error into one line on stderr and a non-zero exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with stops_as_interrupts():
                return super().invoke(ctx)
        except OptionError as exc:
            click.echo(f"error: {exc.naming(_flag_of(ctx, exc.param))}", err=True)
            sys.exit(1)
        except ReviewclfError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] in ("torch", "onnx", "onnxscript", "matplotlib", "optuna"):
                click.echo(f"error: {TRAIN_EXTRA_HINT} (missing module {exc.name})", err=True)
                sys.exit(1)
            raise
        except Stopped as exc:
            click.echo(f"error: stopped by {signal.Signals(exc.signum).name}", err=True)
            sys.exit(128 + exc.signum)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:
            sys.stderr.close()  # the reader of our stdout went away (e.g. `| head`): not an error
            sys.exit(0)
        except OSError as exc:  # e.g. stdout on a full disk: what a write met, in one line
            _detach_stdout()
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            sys.exit(1)


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a scheduler or a closed terminal stopping the job): cleaned up like Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextmanager
def stops_as_interrupts() -> Iterator[None]:
    """Raise ``Stopped`` for SIGTERM/SIGHUP, so every command's cleanup runs and nothing half-written stays."""
    def stop(signum: int, frame: object) -> None:
        raise Stopped(signum)

    previous = {}
    try:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            previous[signum] = signal.signal(signum, stop)
    except ValueError:  # not the main thread (a test runner's worker): keep the defaults
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _detach_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        pass


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
    from ..allocator import reuse_freed_memory

    reuse_freed_memory()  # this process is the CLI's own: every command reuses its freed blocks


def _register() -> None:
    from . import bundle_commands, predict_command, train_command

    for module in (train_command, bundle_commands, predict_command):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
