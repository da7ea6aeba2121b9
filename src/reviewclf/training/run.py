"""One training run, from review files to a run directory: read, split, fit the tokenizer, encode once,
train, evaluate, write. ``reviewclf train`` is a thin wrapper around ``train_run``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import OptionError, ReviewclfError
from ..io.atomic import staging_dir
from ..io.label_map import parse_label_map
from ..io.labeled import LabeledData, read_many
from ..metrics import classification_report
from ..runtime.encoding import TextEncoder
from .config import TrainConfig
from .loop import EncodedSet, EpochHook, evaluate_logits, predicted_index, resolve_device, train_model
from .models import Classifier, Perceptron, build_model
from .nb import init_from_naive_bayes
from .resume import Resume, read_state
from .rundir import RUN_RESUME, RunDir, refuse_existing, write_run_dir
from .splits import carve_validation, predefined_split, stratified_folds, stratified_split
from .vocabulary import fit_encoder

DEMO_LABEL_MAP = "0=negative,1=positive"
HELDOUT_SAMPLE = 256  # held-out texts kept in the run for the equivalence check at export


def demo_paths() -> list[str]:
    """The embedded UCI sentiment sentences (Kotzias et al. 2015, CC BY 4.0)."""
    folder = resources.files("reviewclf") / "demo_data"
    return sorted(str(p) for p in folder.iterdir() if p.name.endswith("_labelled.txt"))


def load_data(config: TrainConfig, log: Callable[[str], None]) -> tuple[LabeledData, LabeledData | None]:
    """The training data (the demo sentences when no file is given) and the optional separate test set."""
    label_map = parse_label_map(config.label_map) if config.label_map else None
    options = dict(format=config.format, text_column=config.text_column, label_column=config.label_column,
                   label_map=label_map, encoding=config.encoding, on_error=config.on_error)
    if not config.data:  # recorded in the config, so that config.json says how the data was read
        config.data, config.format = demo_paths(), "tabbed"
        config.label_map = config.label_map or DEMO_LABEL_MAP
        options.update(format="tabbed", label_map=parse_label_map(config.label_map))
        log(f"no data given: training on the embedded demo set ({len(config.data)} files, UCI sentences)")
    data = read_many(config.data, **options)
    test = read_many(config.test_data, **options) if config.test_data else None
    for name, part in (("data", data), ("test data", test)):
        if part is not None and (part.dropped or part.skipped):
            log(f"{name}: {len(part.texts)} rows kept, {part.dropped} dropped by --label-map, "
                f"{part.skipped} bad rows skipped")
    return data, test


def split_rows(data: LabeledData, config: TrainConfig, has_test_file: bool) -> dict[str, np.ndarray]:
    """Honour a split the file defines; otherwise a stratified split. A separate test file replaces test."""
    if data.splits is not None:
        parts = predefined_split(data.splits)
        if len(parts["val"]) == 0:
            parts["train"], parts["val"] = carve_validation(data.labels, parts["train"], config.val_fraction,
                                                            config.seed)
    else:
        test_fraction = 0.0 if has_test_file else config.test_fraction
        parts = stratified_split(data.labels, config.val_fraction, test_fraction, config.seed)
    if has_test_file:
        parts["test"] = np.zeros(0, dtype=np.int64)
    return parts


@dataclass
class RunOutcome:
    model: Classifier
    labels: list[str]
    metrics: dict[str, Any]
    history: list[dict[str, float]]
    model_info: dict[str, Any]
    heldout: dict[str, list[str]]
    tokenizer_json: str


@dataclass
class Prepared:
    """A tokenizer fitted on the training texts and the three splits it encoded: what every fit on the same
    texts with the same ``min_freq`` and ``max_length`` shares (autotune's trials reuse it)."""

    encoder: TextEncoder
    labels: list[str]
    train: EncodedSet
    val: EncodedSet
    test: EncodedSet
    heldout: list[str]


def checked_labels(train_labels: list[str], val_labels: list[str], test_labels: list[str]) -> list[str]:
    """The sorted training labels; val and test may not hold a label training never saw."""
    labels = sorted(set(train_labels))
    if len(labels) < 2:
        raise ReviewclfError(f"need at least two labels in the training data, found {labels}")
    unseen = sorted((set(val_labels) | set(test_labels)) - set(labels))
    if unseen:
        raise ReviewclfError(f"labels in val/test never seen in training: {', '.join(unseen)}")
    return labels


def prepare(
    config: TrainConfig,
    train_texts: list[str], train_labels: list[str],
    val_texts: list[str], val_labels: list[str],
    test_texts: list[str], test_labels: list[str],
    log: Callable[[str], None],
    encoder: TextEncoder | None = None,
) -> Prepared:
    """Fit the tokenizer on the training texts (or take ``encoder``, a resumed run's, so the ids are the
    ones it was trained on) and encode every split once, on the training device."""
    labels = checked_labels(train_labels, val_labels, test_labels)
    device = resolve_device(config.device)
    if encoder is None:
        encoder = fit_encoder(train_texts, config.min_freq, config.max_length, config.max_vocab)
    log(f"vocabulary: {encoder.vocab_size} tokens (min freq {config.min_freq}); device: {device}")

    def encoded(texts: list[str], names: list[str]) -> EncodedSet:
        return encode_split(encoder, texts, names, labels, device)

    return Prepared(encoder, labels, encoded(train_texts, train_labels), encoded(val_texts, val_labels),
                    encoded(test_texts, test_labels), list((test_texts or val_texts)[:HELDOUT_SAMPLE]))


def encode_split(encoder: TextEncoder, texts: list[str], names: list[str], labels: list[str],
                 device: torch.device) -> EncodedSet:
    """One split's token ids and label indices (``labels`` in order) on ``device``."""
    index = {label: i for i, label in enumerate(labels)}
    targets = np.array([index[n] for n in names], dtype=np.int64)
    return EncodedSet.build(encoder.encode_flat(texts), targets, device)


def split_report(model: Classifier, part: EncodedSet, labels: list[str], config: TrainConfig) -> dict[str, Any]:
    """The classification report of one split (the model in evaluation mode)."""
    logits = evaluate_logits(model, part, config.batch_size * 4, config.bf16)
    return classification_report(part.targets.cpu().numpy(), predicted_index(logits).cpu().numpy(), labels)


def fit_prepared(config: TrainConfig, prepared: Prepared, log: Callable[[str], None],
                 on_epoch: EpochHook | None = None, score_test: bool = True,
                 resume: Resume | None = None) -> RunOutcome:
    """Train one model on prepared splits and evaluate it on val (and test unless ``score_test`` is off);
    ``resume``: where the resume state goes, and the state to continue from (``train_model``)."""
    torch.manual_seed(config.seed)
    encoder, train = prepared.encoder, prepared.train
    n_outputs = 1 if len(prepared.labels) == 2 else len(prepared.labels)
    hparams = config.model_hparams()
    model = build_model(config.model, encoder.vocab_size, n_outputs, hparams).to(train.ids.device)
    if config.model == "ngram" and config.nb_init:
        # a class-weighted loss is minimized near even odds, so the bias then starts there, not at the prior
        init_from_naive_bayes(model, train, prior=config.class_weight == "none")
    result = train_model(model, train, prepared.val, config, log, on_epoch, resume)
    # the trained model in its final form: what the checkpoint stores, the metrics measure and export serves
    model.prepare_for_export()
    metrics: dict[str, Any] = {"best_epoch": result.best_epoch, "stopped_by": result.stopped_by,
                               "epochs_run": len(result.history)}
    for name, part in (("val", prepared.val), ("test", prepared.test if score_test else None)):
        if part is not None and len(part):
            metrics[name] = split_report(model, part, prepared.labels, config)
    if result.history:
        metrics["seconds_per_epoch"] = float(np.mean([h["seconds"] for h in result.history]))
    model_info = {"kind": config.model, "hyperparameters": hparams, "labels": prepared.labels,
                  "vocab_size": encoder.vocab_size, "n_outputs": n_outputs, "max_length": config.max_length,
                  "device": str(train.ids.device), "torch": torch.__version__}
    return RunOutcome(model=model.cpu().eval(), labels=prepared.labels, metrics=metrics, history=result.history,
                      model_info=model_info, heldout={"texts": prepared.heldout}, tokenizer_json=encoder.to_str())


def fit_once(
    config: TrainConfig,
    train_texts: list[str], train_labels: list[str],
    val_texts: list[str], val_labels: list[str],
    test_texts: list[str], test_labels: list[str],
    log: Callable[[str], None],
) -> RunOutcome:
    """Fit the tokenizer on the training texts, train one model, and evaluate it on val and test."""
    prepared = prepare(config, train_texts, train_labels, val_texts, val_labels, test_texts, test_labels, log)
    return fit_prepared(config, prepared, log)


def cross_validate(config: TrainConfig, data: LabeledData, log: Callable[[str], None]) -> dict[str, Any]:
    """K-fold cross-validation: each fold is the test set once; mean and spread of the test metrics."""
    folds = stratified_folds(data.labels, config.folds, config.seed)
    scores: dict[str, list[float]] = {"accuracy": [], "macro_f1": []}
    for k, test_rows in enumerate(folds, start=1):
        rest = np.setdiff1d(np.arange(len(data.texts)), test_rows)
        train_rows, val_rows = carve_validation(data.labels, rest, config.val_fraction, config.seed)
        log(f"fold {k}/{config.folds}")
        pick = lambda rows, seq: [seq[i] for i in rows]  # noqa: E731
        outcome = fit_once(config, pick(train_rows, data.texts), pick(train_rows, data.labels),
                           pick(val_rows, data.texts), pick(val_rows, data.labels),
                           pick(test_rows, data.texts), pick(test_rows, data.labels), lambda _: None)
        for name in scores:
            scores[name].append(outcome.metrics["test"][name])
        log(f"fold {k}: test accuracy {scores['accuracy'][-1]:.4f}")
    return {"folds": config.folds,
            **{f"{name}_{stat}": float(fn(values)) for name, values in scores.items()
               for stat, fn in (("mean", np.mean), ("std", np.std))},
            "per_fold": scores}


def top_words(model: Classifier, tokenizer_json: str, labels: list[str], k: int = 10) -> dict[str, list[str]]:
    """The perceptron's most positive and most negative words per output (the book's interpretability step)."""
    if not isinstance(model, Perceptron):
        return {}
    vocab = json.loads(tokenizer_json)["model"]["vocab"]
    words = [""] * len(vocab)
    for word, i in vocab.items():
        words[i] = word
    weight = model.fc.weight.detach().cpu()
    result = {}
    columns = [("positive for " + labels[1], weight[:, 0]), ("negative for " + labels[1], -weight[:, 0])] \
        if weight.shape[1] == 1 else [(label, weight[:, i]) for i, label in enumerate(labels)]
    for name, column in columns:
        column = column.clone()
        column[:2] = -float("inf")  # [PAD], [UNK]
        result[name] = [words[i] for i in torch.topk(column, k).indices.tolist()]
    return result


def write_run(out: Path, config: TrainConfig, outcome: RunOutcome, force: bool,
              trials: list[dict[str, Any]] | None = None, work: Path | None = None) -> None:
    """Write ``outcome`` as the run directory ``out`` (atomically, see ``rundir.write_run_dir``); ``trials``:
    autotune's record of every trial (trials.csv and its plot); ``work``: the run's work area, if it has one."""
    write_run_dir(out, config=config.to_dict(), model_info=outcome.model_info,
                  tokenizer_json=outcome.tokenizer_json, model=outcome.model, metrics=outcome.metrics,
                  heldout_texts=outcome.heldout["texts"], history=outcome.history, force=force, trials=trials,
                  trials_metric=f"val_{config.autotune_metric}", work=work)


def split_texts(config: TrainConfig, data: LabeledData, test_data: LabeledData | None,
                log: Callable[[str], None]) -> tuple[tuple[list[str], ...], dict[str, int]]:
    """The six lists ``prepare`` takes (train, val and test texts and labels), and the rows per split."""
    parts = split_rows(data, config, test_data is not None)
    pick = lambda name, seq: [seq[i] for i in parts[name]]  # noqa: E731
    test_texts = test_data.texts if test_data else pick("test", data.texts)
    test_labels = test_data.labels if test_data else pick("test", data.labels)
    log(f"rows: train {len(parts['train'])}, val {len(parts['val'])}, test {len(test_texts)}")
    splits = (pick("train", data.texts), pick("train", data.labels), pick("val", data.texts),
              pick("val", data.labels), test_texts, test_labels)
    return splits, {"train": len(parts["train"]), "val": len(parts["val"]), "test": len(test_texts)}


def train_run(config: TrainConfig, log: Callable[[str], None] = print, force: bool = False,
              resume: Resume | None = None, encoder: TextEncoder | None = None) -> RunOutcome:
    """Everything ``reviewclf train`` does, returning what it wrote. A plain run (no autotune, no folds)
    keeps a resume state in its work area, so a Ctrl-C leaves a run that ``resume_run`` continues; that is
    done through ``resume`` (the state) and ``encoder`` (the run's tokenizer)."""
    out = Path(config.out)
    refuse_existing(out, force)
    data, test_data = load_data(config, log)
    cv = cross_validate(config, data, log) if config.folds else None
    splits, rows = split_texts(config, data, test_data, log)
    if config.autotune:
        from .autotune import autotune_fit  # optuna is imported only by a run that searches

        tuned = autotune_fit(config, *splits, log=log)
        finish_metrics(tuned.outcome, rows, cv)
        write_run(out, tuned.config, tuned.outcome, force, tuned.trials)
        return tuned.outcome
    # the work area: the run directory while it is trained (io.atomic's hidden, locked staging sibling), which
    # holds the resume state after every epoch and which write_run_dir completes and renames into place
    with staging_dir(out) as work:
        prepared = prepare(config, *splits, log, encoder=encoder)
        resume = resume or Resume()
        resume.path = None if config.folds else work / RUN_RESUME
        outcome = fit_prepared(config, prepared, log, resume=resume)
        finish_metrics(outcome, rows, cv)
        write_run(out, config, outcome, force, work=work)
    return outcome


def finish_metrics(outcome: RunOutcome, rows: dict[str, int], cv: dict[str, Any] | None) -> None:
    """What only the run as a whole knows: rows per split, cross-validation, the perceptron's top words."""
    outcome.metrics["rows"] = rows
    if cv:
        outcome.metrics["cross_validation"] = cv
    outcome.metrics["top_words"] = top_words(outcome.model, outcome.tokenizer_json, outcome.labels)


def resume_run(run: Path, epochs: int | None = None, log: Callable[[str], None] = print) -> RunOutcome:
    """Continue the interrupted run ``run`` from its last completed epoch to the result an uninterrupted run
    would have reached: its config.json (``epochs`` may raise the total), its tokenizer, its resume state; the
    data re-read from the config's paths. ``run`` is replaced only once the continued run is written."""
    previous = RunDir.open(run)
    source = run / RUN_RESUME
    state = read_state(source)
    config = TrainConfig.from_dict({**previous.config, "out": str(run)})
    if config.autotune or config.folds:
        raise ReviewclfError(f"{run}: a run with --autotune or --folds cannot be resumed")
    if epochs is not None:
        if epochs <= state["epoch"]:
            raise OptionError("epochs", f"must be more than the {state['epoch']} epochs {run} has completed, "
                                        f"not {epochs}")
        config = TrainConfig.from_dict({**config.to_dict(), "epochs": epochs})
    return train_run(config, log, force=True, resume=Resume(state=state, source=source),
                     encoder=TextEncoder.from_str(previous.tokenizer_json))
