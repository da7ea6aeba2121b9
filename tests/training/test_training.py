"""Tests for training: splits, the tokenizer, early stopping, regularization, optimizers, multi-class runs, the
run directory, and ``reviewclf train`` end to end on real review files."""

from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from tokenizers import Tokenizer

import reviewclf.training.loop as loop
from reviewclf.cli import main
from reviewclf.errors import ReviewclfError
from reviewclf.io.label_map import parse_label_map
from reviewclf.io.labeled import read_labeled, read_many
from reviewclf.metrics import classification_report
from reviewclf.runtime.encoding import PAD_ID, PAD_TOKEN, UNK_TOKEN, TextEncoder
from reviewclf.training import plots
from reviewclf.training.augment import parse_augment, word_dropout
from reviewclf.training.config import TrainConfig
from reviewclf.training.loop import (
    EncodedSet,
    evaluate_logits,
    loss_and_accuracy,
    make_optimizer,
    resolve_device,
    train_model,
)
from reviewclf.training.models import MLP, build_model
from reviewclf.training.run import (
    DEMO_LABEL_MAP,
    HELDOUT_SAMPLE,
    demo_paths,
    fit_once,
    split_rows,
    train_run,
    write_run,
)
from reviewclf.training.rundir import RunDir
from reviewclf.training.splits import (
    carve_validation,
    predefined_split,
    stratified_folds,
    stratified_split,
)
from reviewclf.training.stopping import BestCheckpoint, EarlyStopping
from reviewclf.training.vocabulary import fit_encoder

CPU = torch.device("cpu")
POLARITY = "1=negative,2=negative,4=positive,5=positive"
UCI_MAP = "0=negative,1=positive"
# Counts from ../shared/data/yelp-10k/PROVENANCE.txt (verified there, not measured by this code).
YELP_STARS = {"1": 749, "2": 927, "3": 1461, "4": 3526, "5": 3337}
YELP_POLARITY = {"negative": 1676, "positive": 6863}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def quiet(_: str) -> None:
    pass


def write_tabbed(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{text}\t{label}\n" for text, label in rows), encoding="utf-8")
    return path


def noisy_rows(n: int, seed: int) -> list[tuple[str, str]]:
    """Texts whose word 'good'/'bad' matches the label 70% of the time, padded with memorisable noise words."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        label = int(rng.integers(0, 2))
        signal = ("bad", "good")[label if rng.random() < 0.7 else 1 - label]
        noise = " ".join(f"w{k}" for k in rng.integers(0, 60, size=int(rng.integers(3, 9))))
        rows.append((f"{signal} {noise}", str(label)))
    return rows


def shares_ok(labels: list[str], parts: dict[str, np.ndarray]) -> None:
    """Each label's count in each part is within one row of the part's size times the overall share."""
    total = Counter(labels)
    for name, rows in parts.items():
        counts = Counter(labels[i] for i in rows)
        for label, n in total.items():
            expected = len(rows) * n / len(labels)
            assert abs(counts[label] - expected) <= 1, (name, label, counts[label], expected)


def is_partition(parts: list[np.ndarray], universe: np.ndarray) -> None:
    joined = np.concatenate(parts)
    assert len(joined) == len(set(joined.tolist())), "parts overlap"
    assert sorted(joined.tolist()) == sorted(universe.tolist()), "parts do not cover every row"


# ====================================================================== splits

SPLIT_LABELS = ["a"] * 503 + ["b"] * 211 + ["c"] * 86
np.random.default_rng(0).shuffle(SPLIT_LABELS)


def test_stratified_split_is_stratified_disjoint_and_covering():
    parts = stratified_split(SPLIT_LABELS, 0.15, 0.2, seed=5)
    assert set(parts) == {"train", "val", "test"}
    is_partition(list(parts.values()), np.arange(len(SPLIT_LABELS)))
    shares_ok(SPLIT_LABELS, parts)
    assert abs(len(parts["val"]) - 0.15 * 800) <= 3
    assert abs(len(parts["test"]) - 0.2 * 800) <= 3
    for rows in parts.values():
        assert rows.dtype.kind == "i"


def test_stratified_split_depends_on_the_seed_only():
    first = stratified_split(SPLIT_LABELS, 0.15, 0.15, seed=1)
    again = stratified_split(list(SPLIT_LABELS), 0.15, 0.15, seed=1)
    other = stratified_split(SPLIT_LABELS, 0.15, 0.15, seed=2)
    for name in ("train", "val", "test"):
        assert np.array_equal(first[name], again[name])
        assert len(first[name]) == len(other[name])
    assert not np.array_equal(first["test"], other["test"])
    assert not np.array_equal(first["val"], other["val"])


def test_stratified_split_without_test_and_bad_fractions():
    parts = stratified_split(SPLIT_LABELS, 0.25, 0.0, seed=3)
    assert len(parts["test"]) == 0
    is_partition([parts["train"], parts["val"]], np.arange(800))
    shares_ok(SPLIT_LABELS, {"train": parts["train"], "val": parts["val"]})
    for val, test in ((0.5, 0.5), (-0.1, 0.1), (0.1, 1.0), (1.0, 0.0)):
        with pytest.raises(ReviewclfError, match="fraction"):
            stratified_split(SPLIT_LABELS, val, test, seed=3)


def test_predefined_split_from_a_book_file_is_honoured(tmp_path):
    rows = []
    for i in range(60):
        split = ("train", "train", "val", "test", "train")[i % 5]
        rows.append(f"{('negative', 'positive')[i % 2]},review number {i} is {'bad' if i % 2 == 0 else 'good'},{split}")
    path = tmp_path / "reviews_with_splits.csv"
    path.write_text("rating,review,split\n" + "\n".join(rows) + "\n", encoding="utf-8")
    data = read_labeled(path)
    assert data.splits is not None
    parts = predefined_split(data.splits)
    for name in ("train", "val", "test"):
        assert parts[name].tolist() == [i for i in range(60) if data.splits[i] == name]
    # the run keeps the file's split: row counts and the held-out texts are the file's test rows
    config = TrainConfig(data=[str(path)], epochs=1, min_freq=1, out=str(tmp_path / "run"))
    outcome = train_run(config, log=quiet)
    assert outcome.metrics["rows"] == {"train": 36, "val": 12, "test": 12}
    assert outcome.heldout["texts"] == [data.texts[i] for i in parts["test"]]
    with pytest.raises(ReviewclfError, match="unknown split names in data: dev"):
        predefined_split(["train", "dev"])


def test_a_file_with_train_and_test_only_gets_a_carved_validation_set(tmp_path):
    lines = [f"{('negative', 'positive')[i % 2]},text {i},{'test' if i % 4 == 0 else 'train'}" for i in range(80)]
    path = tmp_path / "b.csv"
    path.write_text("rating,review,split\n" + "\n".join(lines) + "\n", encoding="utf-8")
    data = read_labeled(path)
    parts = split_rows(data, TrainConfig(val_fraction=0.25), has_test_file=False)
    file_train = np.array([i for i in range(80) if i % 4 != 0])
    assert parts["test"].tolist() == [i for i in range(80) if i % 4 == 0]
    is_partition([parts["train"], parts["val"]], file_train)
    assert abs(len(parts["val"]) - 0.25 * 60) <= 1


def test_carve_validation():
    train_rows = np.arange(0, 800, 2)
    kept, val = carve_validation(SPLIT_LABELS, train_rows, 0.2, seed=9)
    is_partition([kept, val], train_rows)
    sub_labels = [SPLIT_LABELS[i] for i in train_rows]
    for label, n in Counter(sub_labels).items():
        assert abs(sum(SPLIT_LABELS[i] == label for i in val) - 0.2 * n) <= 1
    again = carve_validation(SPLIT_LABELS, train_rows, 0.2, seed=9)
    assert np.array_equal(again[0], kept) and np.array_equal(again[1], val)


def test_stratified_folds():
    folds = stratified_folds(SPLIT_LABELS, 5, seed=4)
    assert len(folds) == 5
    is_partition(folds, np.arange(800))
    total = Counter(SPLIT_LABELS)
    for fold in folds:
        counts = Counter(SPLIT_LABELS[i] for i in fold)
        for label, n in total.items():
            assert abs(counts[label] - n / 5) <= 1
    assert all(np.array_equal(a, b) for a, b in zip(folds, stratified_folds(SPLIT_LABELS, 5, seed=4)))
    assert not np.array_equal(folds[0], stratified_folds(SPLIT_LABELS, 5, seed=5)[0])
    with pytest.raises(ReviewclfError, match="at least 2"):
        stratified_folds(SPLIT_LABELS, 1, seed=4)


def test_cross_validation_run_on_the_demo_data(tmp_path):
    out = tmp_path / "cv"
    result = CliRunner().invoke(main, ["train", "--folds", "3", "--epochs", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    cv = json.loads((out / "metrics.json").read_text())["cross_validation"]
    assert cv["folds"] == 3
    for name in ("accuracy", "macro_f1"):
        per_fold = cv["per_fold"][name]
        assert len(per_fold) == 3
        assert all(0.5 < v <= 1.0 for v in per_fold)  # balanced binary data: better than chance
        assert cv[f"{name}_mean"] == pytest.approx(np.mean(per_fold))
        assert cv[f"{name}_std"] == pytest.approx(np.std(per_fold))
    assert f"3-fold CV accuracy {cv['accuracy_mean']:.4f} ± {cv['accuracy_std']:.4f}" in result.stdout


# ====================================================================== tokenizer


def test_pad_is_zero_and_unknown_words_map_to_unk():
    encoder = fit_encoder(["good food", "bad food"], min_freq=1, max_length=16)
    assert encoder.tokenizer.token_to_id(PAD_TOKEN) == PAD_ID == 0
    unk = encoder.tokenizer.token_to_id(UNK_TOKEN)
    ids = encoder.encode(["good food food", "", "zebra"])
    assert ids.dtype == np.int64 and ids.shape == (3, 3)
    good, food = encoder.tokenizer.token_to_id("good"), encoder.tokenizer.token_to_id("food")
    assert ids.tolist() == [[good, food, food], [0, 0, 0], [unk, 0, 0]]
    assert 0 not in (good, food, unk)


def test_min_freq_cuts_rare_words():
    texts = ["a a b", "a c c", "d"]
    vocab = lambda n: set(fit_encoder(texts, n, 16).tokenizer.get_vocab()) - {PAD_TOKEN, UNK_TOKEN}  # noqa: E731
    assert vocab(1) == {"a", "b", "c", "d"}
    assert vocab(2) == {"a", "c"}
    assert vocab(3) == {"a"}
    assert fit_encoder(texts, 2, 16).vocab_size == 4
    capped = fit_encoder(texts, 1, 16, max_vocab=3)
    assert set(capped.tokenizer.get_vocab()) == {PAD_TOKEN, UNK_TOKEN, "a"}  # the most frequent word stays


def test_max_length_truncates_and_survives_serialization():
    texts = ["one two three four five six seven eight"]
    short = fit_encoder(texts, 1, 5)
    long = fit_encoder(texts, 1, 100)
    assert short.max_length == 5
    assert short.encode_ragged(texts) == [long.encode_ragged(texts)[0][:5]]
    assert len(long.encode_ragged(texts)[0]) == 8
    reloaded = TextEncoder.from_str(short.to_str())
    assert reloaded.max_length == 5
    assert reloaded.encode(texts * 2).shape == (2, 5)


def test_normalization_lives_in_tokenizer_json(tmp_path):
    encoder = fit_encoder(["great food ! would return .", "bad service"], 1, 64)
    path = tmp_path / "tokenizer.json"
    path.write_text(encoder.to_str(), encoding="utf-8")
    spec = json.loads(path.read_text())
    assert spec["normalizer"] is not None and spec["pre_tokenizer"] is not None
    assert spec["truncation"]["max_length"] == 64
    reloaded = TextEncoder.from_file(path)
    text = "GREAT Food!<br /><br />Would   return.<BR/>Bad<br>service"
    assert reloaded.tokens(text) == ["great", "food", "!", "would", "return", ".", "bad", "service"]
    assert reloaded.tokens("food!") == ["food", "!"]  # punctuation split off the word
    plain = Tokenizer.from_str(path.read_text())  # no Python wrapper: the file alone gives the same ids
    assert plain.encode(text, add_special_tokens=False).ids == reloaded.encode_ragged([text])[0]
    unk = reloaded.tokenizer.token_to_id(UNK_TOKEN)
    assert unk not in reloaded.encode_ragged([text])[0]


@pytest.fixture(scope="module")
def yelp(data_dir):
    return read_labeled(data_dir / "yelp-10k" / "yelp.csv.zip", text_column="text", label_column="stars")


def test_tokenizer_round_trip_on_real_reviews(yelp):
    texts = yelp.texts[:2000]
    encoder = fit_encoder(texts[:1500], min_freq=2, max_length=256)
    reloaded = TextEncoder.from_str(encoder.to_str())
    assert reloaded.vocab_size == encoder.vocab_size
    original, again = encoder.encode(texts), reloaded.encode(texts)
    assert original.shape[0] == 2000 and original.shape[1] == 256  # some review is longer than 256 tokens
    assert np.array_equal(original, again)
    plain = Tokenizer.from_str(encoder.to_str())
    assert [e.ids for e in plain.encode_batch(texts, add_special_tokens=False)] == encoder.encode_ragged(texts)
    unk = encoder.tokenizer.token_to_id(UNK_TOKEN)
    assert (original[:, :] == unk).any()  # the last 500 reviews have words the first 1500 lack
    for word in encoder.tokenizer.get_vocab():
        if word in (PAD_TOKEN, UNK_TOKEN):
            continue
        assert word == word.lower()
        assert re.fullmatch(r"\w+|[^\w\s]+", word) and not {"'", "\u2019"} & set(word), word


def test_tokenizer_is_fitted_on_the_training_split_only():
    rng = np.random.default_rng(0)
    words = ["good", "bad", "food", "service", "place"]
    train = [" ".join(rng.choice(words, 4)) for _ in range(20)]
    labels = ["negative", "positive"] * 10
    held = ["zebra food", "zebra zebra good", "bad zebra"]
    outcome = fit_once(TrainConfig(epochs=1, min_freq=1), train, labels, held, labels[:3], held, labels[:3], quiet)
    encoder = TextEncoder.from_str(outcome.tokenizer_json)
    assert encoder.tokenizer.token_to_id("zebra") is None
    assert encoder.tokenizer.token_to_id("food") is not None
    assert encoder.encode_ragged(["zebra"]) == [[encoder.tokenizer.token_to_id(UNK_TOKEN)]]
    assert outcome.model_info["vocab_size"] == encoder.vocab_size == 2 + len(words)


def test_the_demo_run_tokenizer_is_the_one_fitted_on_its_train_split(demo_run):
    config = TrainConfig.from_dict(json.loads((demo_run / "config.json").read_text()))
    data = read_many(config.data, format="tabbed", label_map=parse_label_map(DEMO_LABEL_MAP))
    parts = stratified_split(data.labels, config.val_fraction, config.test_fraction, config.seed)
    refit = fit_encoder([data.texts[i] for i in parts["train"]], config.min_freq, config.max_length)
    assert json.loads(refit.to_str()) == json.loads((demo_run / "tokenizer.json").read_text())


# ====================================================================== early stopping


def test_early_stopping_unit():
    stopper = EarlyStopping(patience=2)
    assert stopper.step(1.0) is True
    assert stopper.step(0.9) is True
    assert stopper.step(0.95) is False and not stopper.should_stop
    assert stopper.step(0.8) is True and stopper.bad_epochs == 0  # an improvement resets the count
    assert stopper.step(0.8) is False  # equal is not better
    assert stopper.step(0.85) is False and stopper.should_stop
    assert stopper.best == 0.8
    strict = EarlyStopping(patience=1, min_delta=0.05)
    assert strict.step(1.0) is True
    assert strict.step(0.97) is False and strict.should_stop  # better, but by less than min_delta
    never = EarlyStopping(patience=0)
    for loss in (1.0, 2.0, 3.0, 4.0):
        never.step(loss)
    assert not never.should_stop


def test_best_checkpoint_keeps_a_copy():
    model = torch.nn.Linear(3, 1)
    best = BestCheckpoint()
    best.restore(model)  # nothing saved: a no-op
    best.save(model, epoch=4)
    saved = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    assert torch.equal(best.state["weight"], saved)  # not a view of the live weights
    best.restore(model)
    assert torch.equal(model.weight, saved) and best.epoch == 4
    with torch.no_grad():
        model.weight.add_(1.0)
    assert torch.equal(best.state["weight"], saved)  # restoring did not hand out the stored tensors


def synthetic_sets(seed: int = 0) -> tuple[EncodedSet, EncodedSet]:
    rng = np.random.default_rng(seed)

    def one(n: int) -> EncodedSet:
        y = rng.integers(0, 2, size=n)
        rows = [[int(2 + (t if rng.random() < 0.7 else 1 - t))] + rng.integers(4, 60, size=rng.integers(3, 9)).tolist()
                for t in y]
        return EncodedSet.build(rows, y, CPU)

    return one(40), one(40)


def test_training_stops_early_and_restores_the_best_epoch():
    train, val = synthetic_sets()
    config = TrainConfig(epochs=60, lr=0.01, patience=2, batch_size=8, seed=3)
    torch.manual_seed(0)
    model = build_model("perceptron", 60, 1, {})
    start = {k: v.clone() for k, v in model.state_dict().items()}
    result = train_model(model, train, val, config, log=quiet)
    losses = [h["val_loss"] for h in result.history]
    assert result.stopped_by == "early-stopping"
    assert len(result.history) < config.epochs
    assert len(result.history) == result.best_epoch + config.patience
    assert result.best_epoch == int(np.argmin(losses)) + 1
    restored_loss, _ = loss_and_accuracy(model, val, config.batch_size * 4, False)
    assert restored_loss == pytest.approx(losses[result.best_epoch - 1], abs=1e-7)
    assert restored_loss < losses[-1]  # not the weights of the last epoch
    # the same training cut at best_epoch ends at exactly the restored weights
    replay = build_model("perceptron", 60, 1, {})
    replay.load_state_dict(start)
    cut = TrainConfig(**{**config.to_dict(), "epochs": result.best_epoch})
    assert train_model(replay, train, val, cut, log=quiet).stopped_by == "epochs"
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, replay.state_dict()[name]), name


def test_run_directory_checkpoint_is_the_best_epoch(tmp_path):
    data = write_tabbed(tmp_path / "tiny.txt", noisy_rows(120, seed=1))
    config = TrainConfig(data=[str(data)], epochs=60, lr=0.05, patience=2, batch_size=8, min_freq=1,
                         val_fraction=0.25, test_fraction=0.25, out=str(tmp_path / "run"))
    outcome = train_run(config, log=quiet)
    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    with open(run / "history.csv", newline="") as handle:
        history = list(csv.DictReader(handle))
    assert metrics["stopped_by"] == "early-stopping"
    assert metrics["epochs_run"] == len(history) == metrics["best_epoch"] + 2 < 60
    # rebuild the validation split and score it with the checkpoint read back from disk
    labeled = read_labeled(data)
    val_rows = stratified_split(labeled.labels, 0.25, 0.25, config.seed)["val"]
    encoder = TextEncoder.from_file(run / "tokenizer.json")
    index = {label: i for i, label in enumerate(outcome.labels)}
    val = EncodedSet.build(encoder.encode_ragged([labeled.texts[i] for i in val_rows]),
                           np.array([index[labeled.labels[i]] for i in val_rows]), CPU)
    model = load_run_model(run)
    loss, _ = loss_and_accuracy(model, val, config.batch_size * 4, False)
    assert loss == pytest.approx(float(history[metrics["best_epoch"] - 1]["val_loss"]), abs=1e-6)
    assert loss < float(history[-1]["val_loss"])


# ====================================================================== regularization, optimizers


@pytest.fixture(scope="module")
def demo_sets() -> tuple[EncodedSet, EncodedSet, int]:
    data = read_many(demo_paths(), format="tabbed", label_map=parse_label_map(DEMO_LABEL_MAP))
    parts = stratified_split(data.labels, 0.15, 0.15, 1337)
    encoder = fit_encoder([data.texts[i] for i in parts["train"]], 2, 512)
    labels = sorted(set(data.labels))

    def encoded(name: str) -> EncodedSet:
        rows = parts[name]
        return EncodedSet.build(encoder.encode_ragged([data.texts[i] for i in rows]),
                                np.array([labels.index(data.labels[i]) for i in rows]), CPU)

    return encoded("train"), encoded("val"), encoder.vocab_size


def fit_demo(demo_sets, kind: str = "perceptron", **settings: object):
    train, val, vocab = demo_sets
    config = TrainConfig(**{"epochs": 3, "lr": 0.01, "batch_size": 64, "patience": 0, **settings})
    torch.manual_seed(0)
    model = build_model(kind, vocab, 1, {"hidden": 16, "activation": "relu", "dropout": config.dropout})
    before, _ = loss_and_accuracy(model, train, 512, False)
    result = train_model(model, train, val, config, log=quiet)
    after, _ = loss_and_accuracy(model, train, 512, False)
    return model, result, before, after


@pytest.fixture(scope="module")
def baseline(demo_sets):
    return fit_demo(demo_sets)


def near_zero_share(weight: torch.Tensor) -> float:
    return float((weight.detach().abs() < 1e-3).float().mean())


def test_l1_makes_the_first_layer_sparse(demo_sets, baseline):
    plain = baseline[0].first_layer_weight().detach()
    model, *_ = fit_demo(demo_sets, l1=1e-3)
    sparse = model.first_layer_weight().detach()
    assert sparse.abs().sum() < 0.5 * plain.abs().sum()
    assert near_zero_share(sparse) > 5 * near_zero_share(plain) + 0.02


def test_weight_decay_shrinks_the_weights(demo_sets, baseline):
    plain = baseline[0].first_layer_weight().detach()
    model, *_ = fit_demo(demo_sets, weight_decay=1e-2)
    assert model.first_layer_weight().detach().norm() < 0.7 * plain.norm()


def test_dropout_is_random_in_train_mode_and_off_in_eval():
    torch.manual_seed(0)
    model = MLP(50, 1, hidden=64, activation="relu", dropout=0.5)
    ids = torch.randint(1, 50, (8, 10))
    model.train()
    assert not torch.equal(model(ids), model(ids))
    model.eval()
    assert torch.equal(model(ids), model(ids))
    model.dropout.p = 0.0
    no_dropout = model(ids)
    model.dropout.p = 0.5
    assert torch.equal(model(ids), no_dropout)


def test_dropout_changes_the_training_trajectory(demo_sets):
    first = fit_demo(demo_sets, "mlp", epochs=1)[1].history[0]
    again = fit_demo(demo_sets, "mlp", epochs=1)[1].history[0]
    dropped = fit_demo(demo_sets, "mlp", epochs=1, dropout=0.5)[1].history[0]
    assert first["train_loss"] == again["train_loss"]  # deterministic, so the difference below is dropout's
    assert dropped["train_loss"] != first["train_loss"]


def test_word_dropout_rate_and_padding():
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 1000, (100, 1250), generator=generator)
    ids[:, 1000:] = 0  # 100,000 words and 25,000 padding
    dropped = word_dropout(ids, 0.3, generator)
    words = ids != 0
    gone = words & (dropped == 0)
    assert abs(float(gone.sum()) / float(words.sum()) - 0.3) < 0.03
    assert torch.all(dropped[~words] == 0)
    kept = dropped != 0
    assert torch.equal(dropped[kept], ids[kept])  # a kept word is not altered
    assert word_dropout(ids, 0.0) is ids
    again = word_dropout(ids, 0.3, torch.Generator().manual_seed(5))
    assert torch.equal(again, word_dropout(ids, 0.3, torch.Generator().manual_seed(5)))


def test_word_dropout_only_touches_training_batches(demo_sets, monkeypatch):
    train, val, _ = demo_sets
    calls: list[int] = []
    real = loop.word_dropout

    def spy(ids, p, generator=None):
        calls.append(ids.shape[0])
        return real(ids, p, generator)

    monkeypatch.setattr(loop, "word_dropout", spy)
    model, result, _, _ = fit_demo(demo_sets, epochs=2, word_dropout=0.5)
    assert sum(calls) == 2 * len(train)  # every training row twice, no validation row
    calls.clear()
    val_loss, _ = loss_and_accuracy(model, val, 512, False)
    assert calls == []
    assert val_loss == pytest.approx(result.history[result.best_epoch - 1]["val_loss"], abs=1e-7)


@pytest.mark.parametrize(
    "spec, message",
    [("bogus=1", "unknown augmentation"), ("word-dropout=x", "needs a probability"),
     ("word-dropout", "needs a probability"), ("word-dropout=1.0", r"\[0, 1\)"), ("word-dropout=-0.1", r"\[0, 1\)")],
)
def test_parse_augment_rejects_bad_specs(spec, message):
    with pytest.raises(ReviewclfError, match=message):
        parse_augment(spec)


def test_parse_augment_accepts_good_specs():
    assert parse_augment(None) is None  # not given: the model default applies
    assert parse_augment("") is None
    assert parse_augment("word-dropout=0.25") == 0.25
    assert parse_augment(" word-dropout =0") == 0.0


def test_adam_reduces_the_training_loss(baseline):
    _, result, before, after = baseline
    assert after < 0.9 * before
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_sgd_with_momentum_reduces_the_training_loss(demo_sets):
    model, result, before, after = fit_demo(demo_sets, optimizer="sgd", lr=0.1, momentum=0.9)
    assert after < 0.9 * before
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    optimizer = make_optimizer(model, TrainConfig(optimizer="sgd", momentum=0.8, weight_decay=0.1))
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.param_groups[0]["momentum"] == 0.8 and optimizer.param_groups[0]["weight_decay"] == 0.1
    with pytest.raises(ReviewclfError, match="unknown optimizer"):
        make_optimizer(model, TrainConfig(optimizer="lbfgs"))


def test_a_nan_loss_stops_training_with_a_clear_error(monkeypatch, tmp_path):
    real = loop.loss_fn
    monkeypatch.setattr(loop, "loss_fn", lambda logits, targets: real(logits, targets) * float("nan"))
    train, val = synthetic_sets()
    with pytest.raises(ReviewclfError, match="diverged"):
        train_model(build_model("perceptron", 60, 1, {}), train, val, TrainConfig(epochs=3), log=quiet)
    data = write_tabbed(tmp_path / "tiny.txt", noisy_rows(40, seed=2))
    out = tmp_path / "run"
    with pytest.raises(ReviewclfError, match="diverged"):
        train_run(TrainConfig(data=[str(data)], epochs=3, min_freq=1, out=str(out)), log=quiet)
    assert not out.exists()


# ====================================================================== multi-class


@pytest.fixture(scope="module")
def yelp_stars_run(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("stars") / "run"
    config = TrainConfig(data=[str(data_dir / "yelp-10k" / "yelp.csv.zip")], text_column="text",
                         label_column="stars", max_length=64, min_freq=5, epochs=2, out=str(out))
    return train_run(config, log=quiet), out


def test_multi_class_run_on_yelp_stars(yelp_stars_run):
    outcome, out = yelp_stars_run
    metrics = json.loads((out / "metrics.json").read_text())
    model_info = json.loads((out / "model.json").read_text())
    assert model_info["labels"] == sorted(YELP_STARS) and model_info["n_outputs"] == 5
    assert sum(metrics["rows"].values()) == sum(YELP_STARS.values())
    for split in ("val", "test"):
        report = metrics[split]
        assert report["labels"] == sorted(YELP_STARS)
        matrix = np.array(report["confusion_matrix"])
        assert matrix.shape == (5, 5) and matrix.sum() == report["n"] == metrics["rows"][split]
        for label, count in YELP_STARS.items():
            assert abs(report["per_label"][label]["support"] - 0.15 * count) <= 1  # stratified
        assert report["accuracy"] > max(YELP_STARS.values()) / sum(YELP_STARS.values())  # beats the majority


def test_multi_class_probabilities_are_a_softmax(yelp_stars_run):
    outcome, out = yelp_stars_run
    model = load_run_model(out)
    encoder = TextEncoder.from_file(out / "tokenizer.json")
    texts = json.loads((out / "heldout.json").read_text())["texts"][:64]
    ids = torch.from_numpy(encoder.encode(texts))
    with torch.no_grad():
        probs = model.probabilities(ids)
        logits = model(ids)
    assert probs.shape == (64, 5)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(64), atol=1e-6, rtol=0)
    torch.testing.assert_close(probs, torch.softmax(logits, dim=1))
    assert len(set(probs.argmax(dim=1).tolist())) > 1
    # the multi-class loss is the cross-entropy of those probabilities
    targets = torch.randint(0, 5, (64,))
    expected = -torch.log(probs[torch.arange(64), targets]).mean()
    assert float(loop.loss_fn(logits, targets)) == pytest.approx(float(expected), rel=1e-5)


# ====================================================================== the run directory


def load_run_model(run: Path) -> torch.nn.Module:
    return RunDir.open(run).load_model()


def test_run_directory_files(demo_run):
    names = {p.name for p in demo_run.iterdir()}
    assert names >= {"config.json", "model.json", "tokenizer.json", "checkpoint.pt", "metrics.json",
                     "history.csv", "curves.png", "confusion.png", "heldout.json"}
    config = json.loads((demo_run / "config.json").read_text())
    assert config["epochs"] == 4 and config["model"] == "perceptron"
    assert config["data"] == demo_paths()  # recorded resolved: the demo files actually used
    assert TrainConfig.from_dict(config).to_dict() == config
    info = json.loads((demo_run / "model.json").read_text())
    assert info["labels"] == ["negative", "positive"] and info["n_outputs"] == 1
    assert info["vocab_size"] == TextEncoder.from_file(demo_run / "tokenizer.json").vocab_size
    for png in ("curves.png", "confusion.png"):
        raw = (demo_run / png).read_bytes()
        assert raw[:8] == PNG_MAGIC
        image = matplotlib.image.imread(demo_run / png)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
        assert image.std() > 0  # not a blank picture


def test_run_history_and_metrics(demo_run):
    metrics = json.loads((demo_run / "metrics.json").read_text())
    with open(demo_run / "history.csv", newline="") as handle:
        history = list(csv.DictReader(handle))
    assert list(history[0]) == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]
    assert [int(h["epoch"]) for h in history] == list(range(1, metrics["epochs_run"] + 1))
    val_losses = [float(h["val_loss"]) for h in history]
    assert metrics["best_epoch"] == int(np.argmin(val_losses)) + 1
    for split in ("val", "test"):
        report = metrics[split]
        matrix = np.array(report["confusion_matrix"])
        assert matrix.shape == (2, 2) and matrix.sum() == report["n"] == metrics["rows"][split]
        assert report["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
        f1s = []
        for i, label in enumerate(report["labels"]):
            m = report["per_label"][label]
            assert m["support"] == matrix[i].sum()
            assert m["precision"] == pytest.approx(matrix[i, i] / matrix[:, i].sum())
            assert m["recall"] == pytest.approx(matrix[i, i] / matrix[i].sum())
            assert m["f1"] == pytest.approx(2 * m["precision"] * m["recall"] / (m["precision"] + m["recall"]))
            f1s.append(m["f1"])
        assert report["macro_f1"] == pytest.approx(np.mean(f1s))
        assert report["accuracy"] > 0.6
    assert float(history[metrics["best_epoch"] - 1]["val_acc"]) == pytest.approx(metrics["val"]["accuracy"])


def test_checkpoint_reproduces_the_test_metrics(demo_run):
    """Reload checkpoint + tokenizer, rebuild the test split, and get exactly the recorded report."""
    config = TrainConfig.from_dict(json.loads((demo_run / "config.json").read_text()))
    model = load_run_model(demo_run)
    labels = json.loads((demo_run / "model.json").read_text())["labels"]
    data = read_many(config.data, format="tabbed", label_map=parse_label_map(DEMO_LABEL_MAP))
    rows = stratified_split(data.labels, config.val_fraction, config.test_fraction, config.seed)["test"]
    encoder = TextEncoder.from_file(demo_run / "tokenizer.json")
    test = EncodedSet.build(encoder.encode_ragged([data.texts[i] for i in rows]),
                            np.array([labels.index(data.labels[i]) for i in rows]), CPU)
    logits = evaluate_logits(model, test, config.batch_size * 4)
    report = classification_report(test.targets.numpy(), (logits[:, 0] >= 0).long().numpy(), labels)
    assert report == json.loads((demo_run / "metrics.json").read_text())["test"]
    heldout = json.loads((demo_run / "heldout.json").read_text())["texts"]
    assert heldout == [data.texts[i] for i in rows][:HELDOUT_SAMPLE]


@pytest.fixture(scope="module")
def test_data_run(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("testdata") / "run"
    uci = data_dir / "uci-sentences"
    config = TrainConfig(data=[str(uci / "amazon_cells_labelled.txt")], test_data=[str(uci / "imdb_labelled.txt")],
                         label_map=UCI_MAP, epochs=2, lr=0.01, out=str(out))
    return config, train_run(config, log=quiet), out


def test_separate_test_data_is_the_test_split(test_data_run, data_dir):
    config, outcome, out = test_data_run
    test_file = read_labeled(data_dir / "uci-sentences" / "imdb_labelled.txt", label_map=parse_label_map(UCI_MAP))
    n_lines = len((data_dir / "uci-sentences" / "amazon_cells_labelled.txt").read_text().splitlines())
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["rows"]["test"] == metrics["test"]["n"] == len(test_file.texts)
    assert metrics["rows"]["train"] + metrics["rows"]["val"] == n_lines  # no test rows taken from the data
    assert abs(metrics["rows"]["val"] - config.val_fraction * n_lines) <= 2
    heldout = json.loads((out / "heldout.json").read_text())["texts"]
    assert heldout == test_file.texts[:HELDOUT_SAMPLE]


def test_checkpoint_loads_into_a_fresh_model_with_identical_outputs(test_data_run):
    _, outcome, out = test_data_run
    fresh = load_run_model(out)
    assert type(fresh) is type(outcome.model)
    encoder = TextEncoder.from_file(out / "tokenizer.json")
    texts = json.loads((out / "heldout.json").read_text())["texts"][:100] + ["", "zebra zebra", "great phone!"]
    ids = torch.from_numpy(encoder.encode(texts))
    with torch.no_grad():
        assert torch.equal(fresh(ids), outcome.model.eval()(ids))
        assert torch.equal(fresh.probabilities(ids), outcome.model.probabilities(ids))


def test_an_existing_run_directory_needs_force(test_data_run, tmp_path):
    config, outcome, _ = test_data_run
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ReviewclfError, match="already exists; pass --force"):
        train_run(TrainConfig(**{**config.to_dict(), "out": str(out)}), log=quiet)
    with pytest.raises(ReviewclfError, match="already exists"):
        write_run(out, config, outcome, force=False)
    assert (out / "notes.txt").read_text() == "keep me"
    write_run(out, config, outcome, force=True)
    assert not (out / "notes.txt").exists() and (out / "checkpoint.pt").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    write_run(empty, config, outcome, force=False)  # an empty directory is fine
    assert (empty / "metrics.json").exists()


def test_a_failure_while_writing_leaves_no_run_directory(test_data_run, tmp_path, monkeypatch):
    config, outcome, _ = test_data_run

    def broken(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(plots, "plot_confusion", broken)
    out = tmp_path / "runs" / "new"
    with pytest.raises(RuntimeError, match="disk full"):
        write_run(out, config, outcome, force=False)
    assert not out.exists()
    assert list((tmp_path / "runs").iterdir()) == []  # no half-written temporary directory either
    old = tmp_path / "runs" / "old"
    old.mkdir()
    (old / "checkpoint.pt").write_text("the previous run")
    with pytest.raises(RuntimeError, match="disk full"):
        write_run(old, config, outcome, force=True)
    assert (old / "checkpoint.pt").read_text() == "the previous run"  # replaced only once fully written
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["old"]


# ====================================================================== the CLI


def invoke(*args: str):
    return CliRunner().invoke(main, ["train", *args])


def assert_one_line_error(result, contains: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # handled, not an exception escaping the command
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.rstrip("\n").splitlines()[-1] == errors[0]
    assert contains in errors[0]
    assert result.stdout == ""


def test_cli_train_prints_the_summary_and_top_words(data_dir, tmp_path):
    out = tmp_path / "run"
    result = invoke(str(data_dir / "uci-sentences" / "amazon_cells_labelled.txt"), "--label-map", UCI_MAP,
                    "--epochs", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    lines = result.stdout.splitlines()
    assert lines[0] == f"run written to {out}"
    for split in ("val", "test"):
        m = metrics[split]
        assert f"{split:<6} {m['n']:>7} {m['accuracy']:>9.4f} {m['macro_f1']:>9.4f}" in lines
    assert f"best epoch {metrics['best_epoch']} of 2 (epochs)" in lines
    top = {line.split(": ", 1)[0]: line.split(": ", 1)[1].split(", ") for line in lines if line.startswith("top words")}
    assert set(top) == {"top words positive for positive", "top words negative for positive"}
    model = load_run_model(out)
    vocab = TextEncoder.from_file(out / "tokenizer.json").tokenizer.get_vocab()
    weight = model.fc.weight.detach()[:, 0]
    for name, words in top.items():
        assert len(words) == 10 and PAD_TOKEN not in words and UNK_TOKEN not in words
        sign = 1 if name.endswith("positive for positive") else -1
        ranked = sorted(range(2, len(weight)), key=lambda i: -sign * float(weight[i]))
        assert vocab[words[0]] == ranked[0]
        assert all(sign * weight[vocab[w]] > 0 for w in words)
    assert "epoch   1" in result.stderr  # progress goes to stderr, not into the summary


def test_cli_errors_missing_file(tmp_path):
    missing = tmp_path / "nope.txt"
    assert_one_line_error(invoke(str(missing), "--out", str(tmp_path / "r")), "no such file")


def test_cli_errors_unknown_column(data_dir, tmp_path):
    result = invoke(str(data_dir / "yelp-10k" / "yelp.csv.zip"), "--text-column", "nope", "--out", str(tmp_path / "r"))
    assert_one_line_error(result, "no column 'nope'")


def test_cli_errors_label_map_leaving_one_label(data_dir, tmp_path):
    result = invoke(str(data_dir / "uci-sentences" / "amazon_cells_labelled.txt"), "--label-map", "0=negative",
                    "--out", str(tmp_path / "r"))
    assert_one_line_error(result, "two labels")
    assert not (tmp_path / "r").exists()


def test_cli_errors_bad_augment(data_dir, tmp_path):
    result = invoke(str(data_dir / "uci-sentences" / "amazon_cells_labelled.txt"), "--augment", "bogus=1",
                    "--out", str(tmp_path / "r"))
    assert_one_line_error(result, "unknown augmentation 'bogus=1'")


def test_cli_errors_undecodable_bytes(data_dir, tmp_path):
    folder = data_dir / "rt-polarity"
    result = invoke(str(folder / "rt-polarity.neg"), str(folder / "rt-polarity.pos"), "--out", str(tmp_path / "r"))
    assert_one_line_error(result, "latin-1")
    assert "rt-polarity.neg:" in result.stderr  # names the file and line


def test_cli_label_map_on_yelp_gives_the_polarity_counts(data_dir, tmp_path):
    out = tmp_path / "run"
    result = invoke(str(data_dir / "yelp-10k" / "yelp.csv.zip"), "--label-map", POLARITY, "--epochs", "1",
                    "--max-length", "64", "--min-freq", "5", "--out", str(out))
    assert result.exit_code == 0, result.output
    kept, dropped = sum(YELP_POLARITY.values()), YELP_STARS["3"]
    assert f"{kept} rows kept, {dropped} dropped by --label-map" in result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert sum(metrics["rows"].values()) == kept
    for split in ("val", "test"):
        support = {label: m["support"] for label, m in metrics[split]["per_label"].items()}
        assert set(support) == set(YELP_POLARITY)
        for label, count in YELP_POLARITY.items():
            assert abs(support[label] - 0.15 * count) <= 1


# ====================================================================== devices


@pytest.mark.parametrize(("cuda", "mps", "expected"), [
    (True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert resolve_device("auto") == torch.device(expected)


def test_resolve_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ReviewclfError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ReviewclfError, match="MPS is not available"):
        resolve_device("mps")
    with pytest.raises(ReviewclfError, match="unknown device"):
        resolve_device("tpu")


def test_contractions_stay_one_token_and_punctuation_runs_split_off():
    encoder = fit_encoder(["I didn't like it!!! The cast’s fault :-)"], min_freq=1, max_length=64)
    assert encoder.tokens("I DIDN'T like it!!!<br />The cast’s 'fault' :-)") == [
        "i", "didnt", "like", "it", "!!!", "the", "casts", "fault", ":-)"]
    assert encoder.tokens("didnt") == encoder.tokens("didn't")  # the apostrophe-less spelling is the same word


# ====================================================================== staging


def test_staging_dir_is_removed_when_the_block_fails_and_readable_when_it_succeeds(tmp_path):
    from reviewclf.io.atomic import replace_path, staging_dir

    out = tmp_path / "run"
    with pytest.raises(RuntimeError), staging_dir(out) as tmp:
        (tmp / "half.json").write_text("{")
        raise RuntimeError("failed mid-way")
    assert list(tmp_path.iterdir()) == []
    with staging_dir(out) as tmp:
        (tmp / "done.json").write_text("{}")
        replace_path(tmp, out)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert out.stat().st_mode & 0o777 == 0o755


def test_staging_dir_interrupted_just_after_it_is_made_leaves_nothing(tmp_path, monkeypatch):
    """Ctrl-C between the directory's creation and its name reaching the cleanup (a window mkdtemp had)."""
    from reviewclf.io.atomic import staging_dir

    real_mkdir = os.mkdir

    def mkdir_then_interrupt(path, *args, **kwargs):
        real_mkdir(path, *args, **kwargs)
        if os.path.basename(path).startswith(".run."):
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "mkdir", mkdir_then_interrupt)
    with pytest.raises(KeyboardInterrupt), staging_dir(tmp_path / "run"):
        pass
    assert list(tmp_path.iterdir()) == []
