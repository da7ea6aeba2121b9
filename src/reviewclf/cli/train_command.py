"""``reviewclf train``: review files -> run directory."""

from __future__ import annotations

import click

from ..training.config import MODEL_DEFAULTS
from .options import data_options


def model_defaults(key: str) -> str:
    """Help text for an option whose default depends on ``--model``, read from the one table of defaults."""
    values = {kind: defaults[key] for kind, defaults in MODEL_DEFAULTS.items()}
    if len(set(values.values())) == 1:
        return str(next(iter(values.values())))
    return ", ".join(f"{kind} {value}" for kind, value in values.items())


@click.command()
@click.argument("data", nargs=-1, type=click.Path())
@data_options
@click.option("--test-data", multiple=True, type=click.Path(), help="A separate test set (same format options).")
@click.option("--val-fraction", default=0.15, show_default=True)
@click.option("--test-fraction", default=0.15, show_default=True)
@click.option("--folds", default=0, show_default=True, help="K-fold cross-validation (reports mean and spread).")
@click.option("--seed", default=1337, show_default=True)
@click.option("--min-freq", default=2, show_default=True, help="Vocabulary cut-off (the book uses 25).")
@click.option("--max-vocab", default=None, type=int, help="Keep at most this many words.")
@click.option("--max-length", default=2048, show_default=True, help="Tokens kept per review.")
@click.option("--model", type=click.Choice(["perceptron", "mlp", "ngram"]), default="perceptron", show_default=True)
@click.option("--hidden", default=128, show_default=True, help="mlp: hidden units.")
@click.option("--activation", type=click.Choice(["relu", "tanh", "sigmoid"]), default="relu", show_default=True)
@click.option("--dropout", default=None, type=float,
              help=f"Dropout probability [default: {model_defaults('dropout')}].")
@click.option("--dim", default=16, type=click.IntRange(min=1), show_default=True, help="ngram: word embedding size.")
@click.option("--ngrams", default=3, type=click.IntRange(1, 3), show_default=True,
              help="ngram: longest word n-gram (1-3).")
@click.option("--buckets", default=1 << 22, type=click.IntRange(1, 1 << 30), show_default=True,
              help="ngram: hash buckets per n-gram order.")
@click.option("--nb-init/--no-nb-init", default=True, show_default=True,
              help="ngram: scale n-gram features by naive-Bayes log-count ratios (NBSVM).")
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam", show_default=True)
@click.option("--lr", default=None, type=float, help=f"Learning rate [default: {model_defaults('lr')}].")
@click.option("--momentum", default=0.9, show_default=True, help="SGD momentum.")
@click.option("--batch-size", default=None, type=int, help=f"[default: {model_defaults('batch_size')}]")
@click.option("--epochs", default=50, show_default=True, help="At most this many; early stopping ends sooner.")
@click.option("--patience", default=5, show_default=True, help="Early stopping: epochs without val-loss gain.")
@click.option("--weight-decay", default=0.0, show_default=True, help="L2 regularization.")
@click.option("--l1", default=0.0, show_default=True, help="L1 regularization of the input layer.")
@click.option("--augment", default=None, metavar="word-dropout=P",
              help=f"Training-batch word dropout [default: {model_defaults('word_dropout')}].")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto", show_default=True)
@click.option("--bf16", is_flag=True, help="bf16 autocast (GPU).")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the model.")
@click.option("--out", "-o", default="run", show_default=True, type=click.Path(), help="Run directory.")
@click.option("--force", is_flag=True, help="Replace an existing run directory.")
def train(data: tuple[str, ...], format_: str | None, force: bool, augment: str | None, compile_: bool,
          **options: object) -> None:
    """Train a classifier on DATA (review files; none: the embedded demo sentences)."""
    from ..training.augment import parse_augment
    from ..training.config import TrainConfig
    from ..training.run import train_run

    config = TrainConfig.from_dict({**options, "word_dropout": parse_augment(augment)})
    config.data = list(data)
    config.test_data = list(options["test_data"])  # type: ignore[arg-type]
    config.format = format_
    config.compile = compile_
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
    for name, words in metrics.get("top_words", {}).items():
        lines.append(f"top words {name}: {', '.join(words)}")
    return "\n".join(lines)


COMMANDS = [train]
