"""One training run, from review files to a run directory: read, split, fit the tokenizer, encode once,
train, evaluate, write. ``reviewclf train`` is a thin wrapper around ``train_run``."""

from __future__ import annotations

import json
import tempfile
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
from ..io.labeled import LabeledData, TextSink, read_many
from ..metrics import classification_report
from ..runtime.encoding import TextEncoder
from .config import TrainConfig
from .encoded_set import EncodedSet
from .loop import EpochHook, evaluate_logits, predicted_index, train_model
from .models import Classifier, Perceptron, build_model
from .nb import init_from_naive_bayes
from .prepare import Prepared, Preparer
from .progress import bar
from .resume import Resume, read_state
from .rundir import RUN_RESUME, RunDir, refuse_existing, write_run_dir
from .splits import carve_validation, predefined_split, stratified_folds, stratified_split
from .text_spool import TextSpool
from .token_store import SPLITS, SplitTexts, cache_root, store_key
from .vocabulary import new_tokenizer

DEMO_LABEL_MAP = "0=negative,1=positive"


def demo_paths() -> list[str]:
    """The embedded UCI sentiment sentences (Kotzias et al. 2015, CC BY 4.0)."""
    folder = resources.files("reviewclf") / "demo_data"
    return sorted(str(p) for p in folder.iterdir() if p.name.endswith("_labelled.txt"))


def resolve_data(config: TrainConfig, log: Callable[[str], None]) -> None:
    """No data given: the embedded demo set, recorded in the config, so that config.json says how it was read."""
    if not config.data:
        config.data, config.format = demo_paths(), "tabbed"
        config.label_map = config.label_map or DEMO_LABEL_MAP
        log(f"no data given: training on the embedded demo set ({len(config.data)} files, UCI sentences)")


def load_data(config: TrainConfig, log: Callable[[str], None],
              sink: TextSink | None = None) -> tuple[LabeledData, LabeledData | None]:
    """The training data (the demo sentences when no file is given) and the optional separate test set;
    ``sink``: where the texts go (see ``read_labeled``)."""
    resolve_data(config, log)
    label_map = parse_label_map(config.label_map) if config.label_map else None
    options = dict(format=config.format, text_column=config.text_column, label_column=config.label_column,
                   label_map=label_map, encoding=config.encoding, on_error=config.on_error, sink=sink)
    data = read_many(config.data, **options)
    test = read_many(config.test_data, **options) if config.test_data else None
    for name, part in (("data", data), ("test data", test)):
        if part is not None and (part.dropped or part.skipped):
            log(f"{name}: {len(part.labels)} rows kept, {part.dropped} dropped by --label-map, "
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
    model = build_model(config.model, encoder.vocab_size, n_outputs, hparams).to(train.device)
    if config.model == "ngram" and config.nb_init:
        # a class-weighted loss is minimized near even odds, so the bias then starts there, not at the prior
        init_from_naive_bayes(model, train, config.nb_smoothing, prior=config.class_weight == "none")
        kept = model.keep_rows_with_evidence()
        log(f"naive-Bayes ratios: {kept - 1:,} of {model.n_rows - 1:,} sparse rows carry evidence and are trained")
    result = train_model(model, train, prepared.val, config, log, on_epoch, resume)
    # the trained model in its final form: what the checkpoint stores, the metrics measure and export serves
    model.prepare_for_export()
    metrics: dict[str, Any] = {"best_epoch": result.best_epoch, "stopped_by": result.stopped_by,
                               "epochs_run": len(result.history), "rows": dict(prepared.rows)}
    for name, part in (("val", prepared.val), ("test", prepared.test if score_test else None)):
        if part is not None and len(part):
            metrics[name] = split_report(model, part, prepared.labels, config)
    if result.history:
        metrics["seconds_per_epoch"] = float(np.mean([h["seconds"] for h in result.history]))
    model_info = {"kind": config.model, "hyperparameters": hparams, "labels": prepared.labels,
                  "vocab_size": encoder.vocab_size, "n_outputs": n_outputs, "max_length": config.max_length,
                  "device": str(train.device), "torch": torch.__version__}
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
    prepare = Preparer.of_lists(train_texts, train_labels, val_texts, val_labels, test_texts, test_labels, log)
    return fit_prepared(config, prepare(config), log)


def cross_validate(config: TrainConfig, data: SplitTexts, log: Callable[[str], None]) -> dict[str, Any]:
    """K-fold cross-validation over ``data``'s rows: each fold is the test set once; mean and spread of the
    test metrics."""
    # the data's own rows: a separate test file stays out of the folds
    pool = np.sort(np.concatenate([data.parts[name] for name in (SPLITS[:2] if config.test_data else SPLITS)]))
    labels = [data.labels[i] for i in pool.tolist()]
    folds = stratified_folds(labels, config.folds, config.seed)
    scores: dict[str, list[float]] = {"accuracy": [], "macro_f1": []}
    for k, test_rows in enumerate(folds, start=1):
        rest = np.setdiff1d(np.arange(len(pool)), test_rows)
        train_rows, val_rows = carve_validation(labels, rest, config.val_fraction, config.seed)
        log(f"fold {k}/{config.folds}")
        rows = {"train": pool[train_rows], "val": pool[val_rows], "test": pool[test_rows]}
        fold = SplitTexts(data.source, data.labels, rows)
        outcome = fit_prepared(config, Preparer(lambda fold=fold: fold, lambda _: None)(config), lambda _: None)
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


def read_texts(config: TrainConfig, folder: Path, log: Callable[[str], None]) -> SplitTexts:
    """Read the data files once, their texts into a spool in ``folder``; the rows of each split (a separate
    test file's rows follow the data's)."""
    spool = TextSpool(folder / "texts.bin")
    with bar("reading", keep=True) as reading:

        def add(text: str) -> None:
            spool.add(text)
            reading.update()

        try:
            data, test_data = load_data(config, log, sink=add)
        finally:
            spool.close()
    parts = split_rows(data, config, test_data is not None)
    labels = data.labels
    if test_data is not None:
        parts["test"] = np.arange(len(labels), len(labels) + len(test_data.labels))
        labels = labels + test_data.labels
    log(f"rows: train {len(parts['train'])}, val {len(parts['val'])}, test {len(parts['test'])}")
    return SplitTexts(spool, labels, parts)


def cache_folder(config: TrainConfig,
                 encoder: TextEncoder | None) -> Callable[[TrainConfig], Path | None] | None:
    """Where ``Preparer`` finds a config's store in the cache; None without ``--cache`` or when an input
    cannot be read twice (standard input)."""
    if not config.cache or any(path == "-" for path in [*config.data, *config.test_data]):
        return None
    pipeline = new_tokenizer().to_str()
    encoder_json = encoder.to_str() if encoder is not None else None

    def folder(trial: TrainConfig) -> Path | None:
        try:
            return cache_root() / "token-stores" / store_key(trial, pipeline, encoder_json)
        except OSError:  # an input that cannot be read: no cache, and the reader says what is wrong with it
            return None

    return folder


def train_run(config: TrainConfig, log: Callable[[str], None] = print, force: bool = False,
              resume: Resume | None = None, encoder: TextEncoder | None = None) -> RunOutcome:
    """Everything ``reviewclf train`` does, returning what it wrote. A plain run (no autotune, no folds)
    keeps a resume state in its work area, so a Ctrl-C leaves a run that ``resume_run`` continues; that is
    done through ``resume`` (the state) and ``encoder`` (the run's tokenizer)."""
    out = Path(config.out)
    refuse_existing(out, force)
    resolve_data(config, log)
    with tempfile.TemporaryDirectory(prefix="reviewclf-texts-") as spool_folder:
        prepare = Preparer(lambda: read_texts(config, Path(spool_folder), log), log, cache_folder(config, encoder),
                           encoder)
        cv = cross_validate(config, prepare.split(), log) if config.folds else None
        if config.autotune:
            from .autotune import autotune_fit  # optuna is imported only by a run that searches

            tuned = autotune_fit(config, prepare, log=log)
            finish_metrics(tuned.outcome, cv)
            write_run(out, tuned.config, tuned.outcome, force, tuned.trials)
            return tuned.outcome
        # the work area: the run directory while it is trained (io.atomic's hidden, locked staging sibling),
        # which holds the resume state after every epoch and which write_run_dir completes and renames into place
        with staging_dir(out) as work:
            resume = resume or Resume()
            resume.path = None if config.folds else work / RUN_RESUME
            outcome = fit_prepared(config, prepare(config), log, resume=resume)
            finish_metrics(outcome, cv)
            write_run(out, config, outcome, force, work=work)
    return outcome


def finish_metrics(outcome: RunOutcome, cv: dict[str, Any] | None) -> None:
    """What only the run as a whole knows: cross-validation, the perceptron's top words."""
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
