"""``--autotune``: search the model kind and its hyper-parameters on the validation split with Optuna.

A TPE sampler seeded from ``--seed`` proposes each trial; every trial trains with early stopping and reports
its per-epoch validation metric to a median pruner, which ends trials that trail the others at the same epoch.
The three models' defaults are the first trials, so the search starts from what ``reviewclf train`` would do.
The tokenizer depends on ``min_freq`` only, so the encoded splits are cached per ``min_freq``.

The final model is a trial's own model, not a refit on train + val: a refit would cost another full training
outside the budget, and would leave no held-out rows for early stopping or for the validation metrics the run
reports. Which trial: the default model's (what ``reviewclf train`` gives), unless the best trial beats it on the
same validation rows by more than the luck of being the best of that many trials (``trial_choice``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ReviewclfError
from .config import CLASS_WEIGHTS, MODEL_DEFAULTS, TrainConfig
from .loop import evaluate_logits, predicted_index
from .models import MODEL_KINDS
from .prepare import Prepared, Preparer
from .run import RunOutcome, fit_prepared, split_report
from .trial_choice import keep_best, paired_z

# The search space (``space``). Categorical where only a few values make sense and where the defaults must be
# reachable exactly (L2 0, batch 128/512); log-uniform for the learning rate.
LR_RANGE = (3e-4, 1e-2)
BATCH_SIZES = (32, 64, 128, 256, 512)
WEIGHT_DECAYS = (0.0, 1e-6, 1e-5, 1e-4, 1e-3)
MIN_FREQS = (1, 2, 3, 5)
HIDDEN_SIZES = (32, 64, 128, 256)
DIMS = (8, 16, 32, 64)
BUCKETS = (1 << 18, 1 << 20, 1 << 22)
NB_SMOOTHINGS = (1.0, 2.0, 5.0, 10.0, 20.0)
DROPOUT_RANGE = (0.0, 0.5)
# Optuna: random trials before TPE models the results (the three defaults count among them); the pruner
# waits for a few finished trials and a few epochs, so slow starters are not cut on their first epoch.
STARTUP_TRIALS = 6
PRUNER_STARTUP_TRIALS = 4
PRUNER_WARMUP_EPOCHS = 2
# A trial stops at the end of the epoch that takes it past this share of the budget (its best epoch is kept),
# so that one slowly converging trial cannot spend the whole budget: a search compares at least three.
TRIAL_SHARE = 1 / 3
# the model kinds whose defaults are the first trials, in this order (cheapest first)
FIRST_TRIALS = MODEL_KINDS
# trials.csv columns: the searched settings (empty where a model kind has no such setting), then the outcome
SETTINGS = ("model", "lr", "batch_size", "weight_decay", "min_freq", "word_dropout", "hidden", "dropout", "dim",
            "ngrams", "buckets", "nb_smoothing", "class_weight")
OUTCOME = ("val_accuracy", "val_macro_f1", "val_loss", "best_epoch", "epochs_run", "stopped_by", "seconds")


def space(trial: Any, metric: str) -> dict[str, Any]:
    """The settings of one trial, asked of ``trial`` (an ``optuna.Trial`` or a ``DefaultTrial``)."""
    kind = trial.suggest_categorical("model", MODEL_KINDS)
    params: dict[str, Any] = {
        "model": kind,
        "lr": trial.suggest_float("lr", *LR_RANGE, log=True),
        "batch_size": trial.suggest_categorical("batch_size", BATCH_SIZES),
        "weight_decay": trial.suggest_categorical("weight_decay", WEIGHT_DECAYS),
        "min_freq": trial.suggest_categorical("min_freq", MIN_FREQS),
        "word_dropout": trial.suggest_float("word_dropout", *DROPOUT_RANGE),
    }
    if kind == "mlp":
        params["hidden"] = trial.suggest_categorical("hidden", HIDDEN_SIZES)
    if kind in ("mlp", "ngram"):
        params["dropout"] = trial.suggest_float("dropout", *DROPOUT_RANGE)
    if kind == "ngram":
        params["dim"] = trial.suggest_categorical("dim", DIMS)
        params["ngrams"] = trial.suggest_int("ngrams", 1, 3)
        params["nb_smoothing"] = trial.suggest_categorical("nb_smoothing", NB_SMOOTHINGS)
        if params["ngrams"] > 1:
            params["buckets"] = trial.suggest_categorical("buckets", BUCKETS)
    if metric == "macro_f1":  # weighting trades accuracy for the rare classes: only worth it for macro-F1
        params["class_weight"] = trial.suggest_categorical("class_weight", CLASS_WEIGHTS)
    return params


class DefaultTrial:
    """Answers ``space``'s questions with a model kind's defaults (``TrainConfig`` and ``MODEL_DEFAULTS``),
    refusing a default the space cannot propose, so the first trials are exactly ``reviewclf train``'s."""

    def __init__(self, kind: str) -> None:
        self.config = TrainConfig(model=kind)

    def _default(self, name: str, allowed: bool) -> Any:
        value = getattr(self.config, name)
        if not allowed:
            raise ValueError(f"the default {name}={value!r} of {self.config.model} is outside the search space")
        return value

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self._default(name, getattr(self.config, name) in choices)

    def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> float:
        return self._default(name, low <= getattr(self.config, name) <= high)

    def suggest_int(self, name: str, low: int, high: int) -> int:
        return self._default(name, low <= getattr(self.config, name) <= high)


def default_params(kind: str, metric: str) -> dict[str, Any]:
    return space(DefaultTrial(kind), metric)


def trial_config(base: TrainConfig, params: dict[str, Any]) -> TrainConfig:
    """``base`` with one trial's settings; the per-model options a trial does not set take its kind's defaults."""
    values = base.to_dict()
    values.update({key: None for key in MODEL_DEFAULTS[params["model"]]})
    values.update(params)
    return TrainConfig.from_dict(values)


@dataclass
class Tuned:
    """What ``autotune_fit`` returns: the chosen trial's outcome and settings, and every trial's record."""

    outcome: RunOutcome
    config: TrainConfig
    trials: list[dict[str, Any]]
    summary: dict[str, Any]


Entry = tuple[float, int, RunOutcome, TrainConfig]  # a trial's validation metric, number, outcome, settings


@dataclass
class Search:
    """The state of one search: the encoder cache, the best trial so far and the default model's trial, the
    records, the clock."""

    base: TrainConfig
    prepare: Preparer
    deadline: float | None
    trial_budget: float | None = None  # seconds one trial may take (a share of the budget)
    records: list[dict[str, Any]] = field(default_factory=list)
    best: Entry | None = None
    default: Entry | None = None
    scored: int = 0  # trials with a model: how many the best was chosen among

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def keep(self, entry: Entry, is_default: bool) -> None:
        self.scored += 1
        if self.best is None or entry[0] > self.best[0]:
            self.best = entry
        if is_default and self.default is None:
            self.default = entry


def record(number: int, params: dict[str, Any], state: str, outcome: RunOutcome | None, seconds: float) -> dict:
    """One row of trials.csv."""
    row: dict[str, Any] = {"trial": number, "state": state, **{name: params.get(name, "") for name in SETTINGS}}
    metrics = outcome.metrics if outcome is not None else {}
    val, best_epoch = metrics.get("val", {}), metrics.get("best_epoch")
    history = outcome.history if outcome is not None else []
    row.update({"val_accuracy": val.get("accuracy", ""), "val_macro_f1": val.get("macro_f1", ""),
                "val_loss": history[best_epoch - 1]["val_loss"] if history and best_epoch else "",
                "best_epoch": best_epoch if best_epoch is not None else "", "epochs_run": metrics.get("epochs_run", ""),
                "stopped_by": metrics.get("stopped_by", state), "seconds": round(seconds, 3)})
    return row


def describe(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def run_trial(search: Search, trial: Any, metric: str, log: Callable[[str], None]) -> tuple[str, RunOutcome | None]:
    """Train one trial; its state (complete, pruned, interrupted, failed) and outcome. The pruner and the clock
    end a trial through the epoch hook, so its best epoch is still restored and scored."""
    params = space(trial, metric)
    config = trial_config(search.base, params)
    column = "val_acc" if metric == "accuracy" else "val_macro_f1"

    started = time.perf_counter()

    def on_epoch(epoch: dict[str, float]) -> str | None:
        trial.report(epoch[column], int(epoch["epoch"]))
        if trial.should_prune():
            return "pruned"
        if search.out_of_time():
            return "budget"
        return "trial-budget" if search.trial_budget and time.perf_counter() - started >= search.trial_budget else None

    try:
        outcome = fit_prepared(config, search.prepare(config), lambda _: None, on_epoch, score_test=False)
    except ReviewclfError as exc:  # e.g. a learning rate that diverges: this trial fails, the search goes on
        log(f"trial {trial.number}: failed ({exc})")
        return "failed", None
    if outcome.metrics["best_epoch"]:  # a trial interrupted in its first epoch has no trained model to offer
        is_default = params == default_params(search.base.model, metric)
        search.keep((outcome.metrics["val"][metric], trial.number, outcome, config), is_default)
    return {"pruned": "pruned", "interrupted": "interrupted"}.get(outcome.metrics["stopped_by"], "complete"), outcome


def make_study(config: TrainConfig, pruner: Any = None) -> Any:
    """A maximizing study: TPE seeded from ``config.seed``, a median pruner, the defaults queued first."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=STARTUP_TRIALS)
    if pruner is None:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS,
                                             n_warmup_steps=PRUNER_WARMUP_EPOCHS)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    for kind in FIRST_TRIALS:
        study.enqueue_trial(default_params(kind, config.autotune_metric))
    return study


def tell(study: Any, trial: Any, state: str, outcome: RunOutcome | None, metric: str) -> None:
    from optuna.trial import TrialState

    if state == "complete" and outcome is not None:
        study.tell(trial, outcome.metrics["val"][metric])
    else:
        study.tell(trial, state=TrialState.PRUNED if state == "pruned" else TrialState.FAIL)


def search_loop(search: Search, study: Any, max_trials: int | None, log: Callable[[str], None]) -> str:
    """Run trials until the trial count, the budget or a Ctrl-C ends the search; says which did."""
    metric = search.base.autotune_metric
    while True:
        if max_trials is not None and len(search.records) >= max_trials:
            return "trials"
        if search.out_of_time():
            return "budget"
        trial, started = study.ask(), time.perf_counter()
        try:
            state, outcome = run_trial(search, trial, metric, log)
        except KeyboardInterrupt:  # outside the training loop (a tokenizer being fitted): no model from it
            state, outcome = "interrupted", None
        seconds = time.perf_counter() - started
        tell(study, trial, state, outcome, metric)
        search.records.append(record(trial.number, trial.params, state, outcome, seconds))
        score = f"val {metric} {outcome.metrics['val'][metric]:.4f}" if outcome is not None else "no model"
        log(f"trial {trial.number}: {describe(trial.params)} -> {score} ({state}, {seconds:.1f}s)")
        if state == "interrupted":
            return "interrupted"


def autotune_fit(config: TrainConfig, prepare: Preparer, log: Callable[[str], None] = print,
                 pruner: Any = None) -> Tuned:
    """Search on the validation split within ``config``'s budget; the best trial's model, scored on test.

    ``prepare``: the data, encoded once per tokenizer setting a trial asks for (``Preparer.of_lists`` for
    texts in memory). ``pruner``: an Optuna pruner in place of the median pruner (tests use one that always
    prunes).
    """
    budget, max_trials = config.search_budget()
    started = time.perf_counter()
    search = Search(config, prepare,
                    None if budget is None else started + budget, None if budget is None else budget * TRIAL_SHARE)
    limits = ([] if budget is None else [f"{budget:g} s"]) + ([] if max_trials is None else [f"{max_trials} trials"])
    log(f"autotune: searching on validation {config.autotune_metric} for at most {' and '.join(limits)}")
    stopped_by = search_loop(search, make_study(config, pruner), max_trials, log)
    if search.best is None:  # interrupted before any trial had a model: nothing worth writing
        raise KeyboardInterrupt
    (value, number, outcome, chosen), reason = choose(search)
    score_on_test(outcome, chosen, prepare(chosen))
    states = [r["state"] for r in search.records]
    summary = {"metric": config.autotune_metric, "budget_s": budget, "max_trials": max_trials,
               "trials": len(states), **{state: states.count(state) for state in
                                        ("complete", "pruned", "interrupted", "failed")},
               "best_trial": number, "best_model": chosen.model, f"best_val_{config.autotune_metric}": value,
               "top_trial": search.best[1], "chosen_by": reason, "stopped_by": stopped_by,
               "seconds": time.perf_counter() - started, "final_model": "the chosen trial's (no refit)"}
    outcome.metrics["autotune"] = summary
    log(f"autotune: {len(states)} trials ({summary['pruned']} pruned) in {summary['seconds']:.1f}s, stopped by "
        f"{stopped_by}; kept trial {number} ({chosen.model}, val {config.autotune_metric} {value:.4f}), {reason}")
    return Tuned(outcome, chosen, search.records, summary)


def val_predictions(entry: Entry, prepare: Preparer) -> tuple[np.ndarray, np.ndarray, int]:
    """(targets, predicted label indices, number of labels) of a trial's model on the validation rows, encoded
    with its own tokenizer."""
    _, _, outcome, config = entry
    prepared = prepare(config)
    logits = evaluate_logits(outcome.model.to(prepared.train.device), prepared.val, config.batch_size * 4, config.bf16)
    outcome.model.cpu()
    return prepared.val.targets.cpu().numpy(), predicted_index(logits).cpu().numpy(), len(prepared.labels)


def choose(search: Search) -> tuple[Entry, str]:
    """The trial kept (``trial_choice``): the default model's unless the best beats it by more than the luck of
    being the best of ``search.scored``; the entry and why, in words."""
    best, default = search.best, search.default
    assert best is not None
    if default is None or default[1] == best[1]:
        return best, "the best validation score"
    y, best_pred, n_labels = val_predictions(best, search.prepare)
    _, default_pred, _ = val_predictions(default, search.prepare)
    z = paired_z(y, best_pred, default_pred, search.base.autotune_metric, n_labels, search.base.seed)
    keep, reason = keep_best(z, search.scored)
    return (best if keep else default), reason


def score_on_test(outcome: RunOutcome, config: TrainConfig, prepared: Prepared) -> None:
    """The chosen model's test report (the trials never saw test)."""
    if len(prepared.test):
        device = prepared.train.device
        outcome.metrics["test"] = split_report(outcome.model.to(device), prepared.test, prepared.labels, config)
        outcome.model.cpu()
