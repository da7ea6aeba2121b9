"""Every training option in one dataclass: the CLI derives its flags from it, the run directory records it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..errors import OptionError

# Per-model defaults for options left unset (None): the book's settings for its perceptron and MLP; the
# ngram model's by leave-one-task-out over the data sets of benchmarks/generalization.py (word dropout and
# large batches, chosen on IMDB alone, lost on every smaller or shifted set; lr 3e-3 reaches the same accuracy
# in about half the epochs; every training word kept (min_freq 1), since naive-Bayes smoothing already mutes the
# rare ones and the n-grams through them keep their own hash: benchmarks/results/notes-training.md).
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "perceptron": {"lr": 1e-3, "batch_size": 128, "dropout": 0.0, "word_dropout": 0.0, "min_freq": 2},
    "mlp": {"lr": 1e-3, "batch_size": 128, "dropout": 0.0, "word_dropout": 0.0, "min_freq": 2},
    "ngram": {"lr": 3e-3, "batch_size": 128, "dropout": 0.2, "word_dropout": 0.0, "min_freq": 1},
}

# Choices named by where they live (module:attribute), so the CLI can build its flags without importing torch.
MODEL_KINDS_REF = "reviewclf.training.models:MODEL_KINDS"
ACTIVATIONS_REF = "reviewclf.training.models:ACTIVATIONS"
OPTIMIZERS_REF = "reviewclf.training.loop:OPTIMIZERS"
DEVICES_REF = "reviewclf.training.loop:DEVICES"
CLASS_WEIGHTS = ("none", "balanced")
CLASS_WEIGHTS_REF = "reviewclf.training.config:CLASS_WEIGHTS"
AUTOTUNE_METRICS = ("accuracy", "macro_f1")
AUTOTUNE_METRICS_REF = "reviewclf.training.config:AUTOTUNE_METRICS"
# fastText's autotune default: a search with neither a budget nor a trial count given runs this long
DEFAULT_AUTOTUNE_BUDGET = 300.0


def option(default: Any = None, help: str = "", **meta: Any) -> Any:  # noqa: A002 - click's word
    """A field with its CLI help and constraints: ``choices`` (a *_REF), ``low``/``high`` bounds
    (``high_open``: the bound itself excluded), ``model_default`` (None means MODEL_DEFAULTS), ``cli`` (how
    the CLI sets it: ``flag`` by default, ``data`` for the shared data options, ``special`` otherwise)."""
    meta["help"] = help
    if isinstance(default, list):
        return field(default_factory=list, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    # data
    data: list[str] = option([], "Review files; none: the embedded UCI demo sentences.", cli="special")
    format: str | None = option(None, cli="data")
    text_column: str | None = option(None, cli="data")
    label_column: str | None = option(None, cli="data")
    label_map: str | None = option(None, cli="data")
    encoding: str = option("utf-8", cli="data")
    on_error: str = option("raise", cli="data")
    test_data: list[str] = option([], "A separate test set (same format options).", multiple=True)
    # splits
    val_fraction: float = option(0.15, "Share of the rows kept for validation.", low=0.0, high=1.0, high_open=True)
    test_fraction: float = option(0.15, "Share of the rows kept for testing.", low=0.0, high=1.0, high_open=True)
    folds: int = option(0, "K-fold cross-validation (reports mean and spread); 0: none.", low=0)
    seed: int = option(1337, "Seed of the splits, the initial weights and the batch order.")
    # tokenizer
    min_freq: int | None = option(None, "Vocabulary cut-off: rarer words become [UNK] (the book uses 25).", low=1,
                                  model_default=True)
    max_vocab: int | None = option(None, "Keep at most this many words.", low=1)
    max_length: int = option(2048, "Tokens kept per review.", low=1)
    # model
    model: str = option("ngram", "Model kind.", choices=MODEL_KINDS_REF)
    hidden: int = option(128, "mlp: hidden units.", low=1)
    activation: str = option("relu", "mlp: non-linearity.", choices=ACTIVATIONS_REF)
    dropout: float | None = option(None, "Dropout probability.", low=0.0, high=1.0, high_open=True,
                                   model_default=True)
    dim: int = option(16, "ngram: word embedding size.", low=1)
    ngrams: int = option(3, "ngram: longest word n-gram (1-3).", low=1, high=3)
    buckets: int = option(1 << 22, "ngram: hash buckets per n-gram order.", low=1, high=1 << 30)
    nb_init: bool = option(True, "ngram: scale n-gram features by naive-Bayes log-count ratios (NBSVM).")
    nb_smoothing: float = option(5.0, "ngram: pseudo-documents per class added to the naive-Bayes counts; more "
                                      "shrinks the rare n-grams' ratios toward 0.", low=0.0, low_open=True)
    # optimisation
    optimizer: str = option("adam", "Optimizer.", choices=OPTIMIZERS_REF)
    lr: float | None = option(None, "Learning rate.", low=0.0, low_open=True, model_default=True)
    momentum: float = option(0.9, "SGD momentum.", low=0.0)
    batch_size: int | None = option(None, "Rows per training batch.", low=1, model_default=True)
    epochs: int = option(50, "At most this many; early stopping ends sooner.", low=1)
    patience: int = option(3, "Early stopping: epochs without val-loss gain (0: never stop early).", low=0)
    lr_patience: int = option(1, "ReduceLROnPlateau: epochs without val-loss gain before the rate drops.", low=0)
    lr_factor: float = option(0.5, "ReduceLROnPlateau: factor the rate is multiplied by.", low=0.0, high=1.0,
                              low_open=True, high_open=True)
    weight_decay: float = option(0.0, "L2 regularization.", low=0.0)
    l1: float = option(0.0, "L1 regularization of the input layer.", low=0.0)
    word_dropout: float | None = option(None, "Training-batch word dropout.", low=0.0, high=1.0, high_open=True,
                                        model_default=True, cli="special")
    class_weight: str = option("none", "Loss weights per class: none, or balanced (inverse class frequency on the "
                                       "training split).", choices=CLASS_WEIGHTS_REF)
    # hyper-parameter search
    autotune: bool = option(False, "Search model kind and hyper-parameters on the validation split (Optuna); "
                                   "the default model's trial is kept unless the best beats it on the same "
                                   "rows by more than the best of that many trials needs.")
    autotune_budget: float | None = option(None, f"autotune: seconds of search (default {DEFAULT_AUTOTUNE_BUDGET:g} "
                                                 "unless --autotune-trials is given).", low=0.0, low_open=True)
    autotune_trials: int | None = option(None, "autotune: at most this many trials (reproducible under --seed).",
                                         low=1)
    autotune_metric: str = option("accuracy", "autotune: the validation metric to maximize.",
                                  choices=AUTOTUNE_METRICS_REF)
    # execution
    device: str = option("auto", "Where to train (auto picks the GPU).", choices=DEVICES_REF)
    bf16: bool = option(False, "bf16 autocast (GPU).")
    compile: bool = option(False, "torch.compile the model.")
    out: str = option("run", "Run directory.", short="-o")
    cache: bool = option(True, "Keep the encoded data in the cache and reuse it when the same data is trained on "
                               "with the same reader, split and tokenizer options (--no-cache: encode again).")

    def __post_init__(self) -> None:
        """Fill every option left unset (None) from the model's defaults, then check the values."""
        for key, value in MODEL_DEFAULTS.get(self.model, {}).items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        for f in fields(self):
            check_range(f.name, getattr(self, f.name), f.metadata)
        if self.val_fraction + self.test_fraction >= 1:
            raise OptionError("val_fraction", f"plus test_fraction must be less than 1, not "
                                              f"{self.val_fraction} + {self.test_fraction}")
        if self.folds == 1:
            raise OptionError("folds", "must be 0 (none) or at least 2, not 1")
        self.check_choice("class_weight", CLASS_WEIGHTS)
        self.check_choice("autotune_metric", AUTOTUNE_METRICS)
        if self.autotune and self.folds:
            raise OptionError("autotune", "cannot be combined with --folds (each trial needs one validation split)")
        if self.autotune and self.val_fraction == 0:
            raise OptionError("autotune", "needs a validation split (val_fraction > 0)")

    def check_choice(self, name: str, choices: tuple[str, ...]) -> None:
        """The library's own check of a choice the CLI already restricts (API callers pass strings)."""
        if getattr(self, name) not in choices:
            raise OptionError(name, f"must be one of {', '.join(choices)}, not {getattr(self, name)!r}")

    def search_budget(self) -> tuple[float | None, int | None]:
        """autotune's limits, (seconds, trials): the default budget only when neither is given."""
        if self.autotune_budget is None and self.autotune_trials is None:
            return DEFAULT_AUTOTUNE_BUDGET, None
        return self.autotune_budget, self.autotune_trials

    def model_hparams(self) -> dict[str, Any]:
        """The hyper-parameters that ``build_model`` needs for this model kind."""
        if self.model == "mlp":
            return {"hidden": self.hidden, "activation": self.activation, "dropout": self.dropout}
        if self.model == "ngram":
            return {"dim": self.dim, "ngrams": self.ngrams, "buckets": self.buckets, "dropout": self.dropout}
        return {}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Refuses keys that are not fields: a misspelt option would otherwise be silently ignored."""
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise OptionError(unknown[0], f"unknown training option(s): {', '.join(unknown)}")
        return cls(**values)


def check_range(name: str, value: Any, meta: Any) -> None:
    """Raise an OptionError naming ``name`` when ``value`` lies outside the field's bounds."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    low, high = meta.get("low"), meta.get("high")
    too_low = low is not None and (value <= low if meta.get("low_open") else value < low)
    too_high = high is not None and (value >= high if meta.get("high_open") else value > high)
    if too_low or too_high:
        left = "(" if meta.get("low_open") else "["
        right = ")" if meta.get("high_open") else "]"
        bound = f"{'>' if meta.get('low_open') else '>='} {low}"
        where = f"in {left}{low}, {high}{right}" if high is not None else bound
        raise OptionError(name, f"must be {where}, not {value}")


def user_fields() -> list[Any]:
    """The fields a user sets on the command line (all of them: ``cli`` only says how)."""
    return list(fields(TrainConfig))
