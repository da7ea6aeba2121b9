"""``reviewclf train``: review files -> run directory. Its flags are derived from ``TrainConfig``'s fields."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from ..errors import ReviewclfError
from ..training.config import MODEL_DEFAULTS, TrainConfig
from .options import data_options

TYPES: dict[str, type] = {"int": int, "float": float, "str": str, "int | None": int, "float | None": float}
# Fields whose click parameter name differs from the field name (Python names or a different spelling).
CLICK_NAMES = {"compile": "compile_", "word_dropout": "augment"}


def model_defaults(key: str) -> str:
    """Help text for an option whose default depends on ``--model``, read from the one table of defaults."""
    values = {kind: defaults[key] for kind, defaults in MODEL_DEFAULTS.items()}
    if len(set(values.values())) == 1:
        return str(next(iter(values.values())))
    return ", ".join(f"{kind} {value}" for kind, value in values.items())


class LazyChoice(click.Choice):
    """A Choice whose values are read from the training modules only when needed (help, parsing), so that
    building the command does not import torch."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        self.case_sensitive = True

    @property
    def choices(self) -> Sequence[str]:  # type: ignore[override]
        module, _, name = self.ref.partition(":")
        return tuple(getattr(importlib.import_module(module), name))


def config_option(f: dataclasses.Field) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The click option that sets one TrainConfig field: its flag, default, help, type and choices."""
    meta = f.metadata
    flag = "--" + CLICK_NAMES.get(f.name, f.name).rstrip("_").replace("_", "-")
    names = [flag, *([meta["short"]] if "short" in meta else []), CLICK_NAMES.get(f.name, f.name)]
    help_text = meta["help"]
    if meta.get("model_default"):
        help_text += f" [default: {model_defaults(f.name)}]"
    if f.name == "word_dropout":
        return click.option(*names, default=None, metavar="word-dropout=P", help=help_text)
    if f.type == "bool":
        if f.default:
            names = [f"{flag}/--no-{flag[2:]}", f.name]
        return click.option(*names, default=f.default, is_flag=True, show_default=bool(f.default), help=help_text)
    if meta.get("multiple"):
        return click.option(*names, multiple=True, type=click.Path(), help=help_text)
    kind = LazyChoice(meta["choices"]) if "choices" in meta else TYPES[str(f.type)]
    shown = f.default is not None
    return click.option(*names, default=f.default, type=kind, show_default=shown, help=help_text)


def config_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Every TrainConfig field as a flag, in field order; the data-reading fields come from ``data_options``."""
    for f in reversed(dataclasses.fields(TrainConfig)):
        cli = f.metadata.get("cli", "flag")
        if cli == "flag" or f.name == "word_dropout":
            func = config_option(f)(func)
        elif cli == "data" and f.name == "format":
            func = data_options(func)
    return func


def given_flags(ctx: click.Context) -> list[str]:
    """The parameters set on the command line, as the user wrote them (``--lr``, ``DATA``)."""
    given = []
    for param in ctx.command.params:
        if param.name and ctx.get_parameter_source(param.name) not in (None, ParameterSource.DEFAULT):
            given.append(max(param.opts, key=len) if isinstance(param, click.Option) else param.human_readable_name)
    return given


def resume_command(ctx: click.Context, run: str, epochs: int) -> None:
    """``--resume RUN``: the run's own settings; only ``--epochs`` (a new total) may be given with it."""
    from ..training.run import resume_run

    extra = [flag for flag in given_flags(ctx) if flag not in ("--resume", "--epochs")]
    if extra:
        raise ReviewclfError(f"--resume continues RUN with the settings in its config.json; {extra[0]} cannot be "
                             "given with it (only --epochs can)")
    extend = epochs if ctx.get_parameter_source("epochs") is not ParameterSource.DEFAULT else None
    outcome = resume_run(Path(run), extend, log=lambda line: click.echo(line, err=True))
    click.echo(summary(outcome.metrics, run))


@click.command()
@click.argument("data", nargs=-1, type=click.Path())
@config_options
@click.option("--force", is_flag=True, help="Replace an existing run directory.")
@click.option("--resume", type=click.Path(), metavar="RUN",
              help="Continue the interrupted run RUN from its last completed epoch (its own settings; "
                   "--epochs may raise the total).")
@click.pass_context
def train(ctx: click.Context, data: tuple[str, ...], format_: str | None, force: bool, augment: str | None,
          compile_: bool, test_data: tuple[str, ...], resume: str | None, **options: Any) -> None:
    """Train a classifier on DATA (review files; none: the embedded demo sentences)."""
    from ..training.augment import parse_augment
    from ..training.run import train_run

    if resume is not None:
        resume_command(ctx, resume, options["epochs"])
        return
    config = TrainConfig.from_dict({**options, "data": list(data), "test_data": list(test_data), "format": format_,
                                    "compile": compile_, "word_dropout": parse_augment(augment)})
    outcome = train_run(config, log=lambda line: click.echo(line, err=True), force=force)
    click.echo(summary(outcome.metrics, config.out))


def summary(metrics: dict, out: str) -> str:
    """The short table printed at the end of training."""
    lines = [f"run written to {out}", f"{'split':<6} {'n':>7} {'accuracy':>9} {'macro-F1':>9}"]
    for split in ("val", "test"):
        if split in metrics:
            m = metrics[split]
            lines.append(f"{split:<6} {m['n']:>7} {m['accuracy']:>9.4f} {m['macro_f1']:>9.4f}")
    cv = metrics.get("cross_validation")
    if cv:
        lines.append(f"{cv['folds']}-fold CV accuracy {cv['accuracy_mean']:.4f} ± {cv['accuracy_std']:.4f}, "
                     f"macro-F1 {cv['macro_f1_mean']:.4f} ± {cv['macro_f1_std']:.4f}")
    lines.append(f"best epoch {metrics['best_epoch']} of {metrics['epochs_run']} ({metrics['stopped_by']})")
    from ..training.rundir import RUN_RESUME  # after training: torch is loaded by now

    if metrics["stopped_by"] == "interrupted" and (Path(out) / RUN_RESUME).is_file():
        lines.append(f"to continue from the last completed epoch: reviewclf train --resume {out}")
    tuned = metrics.get("autotune")
    if tuned:
        best = tuned["best_val_" + tuned["metric"]]
        lines.append(f"autotune: {tuned['trials']} trials ({tuned['pruned']} pruned) in {tuned['seconds']:.0f}s, "
                     f"stopped by {tuned['stopped_by']}; kept trial {tuned['best_trial']} "
                     f"({tuned['best_model']}, val {tuned['metric']} {best:.4f}): {tuned['chosen_by']}; see trials.csv")
    for name, words in metrics.get("top_words", {}).items():
        lines.append(f"top words {name}: {', '.join(words)}")
    return "\n".join(lines)


COMMANDS = [train]
