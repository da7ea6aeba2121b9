"""The ngram model's sparse features computed once per fit: the logits of the ids, the same fit."""

from __future__ import annotations

import pytest
import torch

from reviewclf.training import encoded_set, loop
from reviewclf.training.config import TrainConfig
from reviewclf.training.models import build_model
from reviewclf.training.nb import init_from_naive_bayes
from reviewclf.training.prepare import Preparer
from reviewclf.training.row_features import precomputable, with_row_features, words_and_counts
from tests.training.support import quiet
from tests.training.test_token_store import demo_lists

CONFIG = TrainConfig(model="ngram", min_freq=1, device="cpu", epochs=3, batch_size=32, seed=3)


def prepared_ngram(config: TrainConfig = CONFIG):
    prepared = Preparer.of_lists(*demo_lists(), quiet)(config)
    torch.manual_seed(config.seed)
    model = build_model("ngram", prepared.encoder.vocab_size, 1, config.model_hparams())
    init_from_naive_bayes(model, prepared.train, config.nb_smoothing)
    model.keep_rows_with_evidence()
    return model, prepared


@pytest.mark.parametrize("held_in_memory", [True, False])
def test_the_precomputed_inputs_give_the_logits_of_the_ids(tmp_path, monkeypatch, held_in_memory):
    if not held_in_memory:
        monkeypatch.setattr(encoded_set, "IN_MEMORY_BYTES", 0)
    model, prepared = prepared_ngram()
    model.eval()
    with torch.no_grad():
        model.sparse.weight.normal_()  # the weights start at zero: give every feature a say
    data = with_row_features(model, prepared.train, tmp_path, "train")
    assert (data.features.features.rows is None) == held_in_memory
    assert (data.features.words.rows is None) == held_in_memory
    stored = distinct = 0
    for index in data.passes(64):
        ids, _ = data.batch(index)
        (words, weights, features), _ = data.inputs(index)
        stored += int((features != 0).sum())
        distinct += int((words != 0).sum())
        # every token counted once: the weights of a review sum to 1
        torch.testing.assert_close(weights.sum(dim=1), torch.ones(len(index)), atol=1e-6, rtol=0)
        # the same sum in another order: equal to float32 rounding
        torch.testing.assert_close(model.forward_rows(words, weights, features), model(ids), atol=1e-6,
                                   rtol=1e-6)
    tokens = int(prepared.train.lengths.sum())
    # only the rows with evidence are stored, and each word once: fewer than the model's features of every token
    assert 0 < stored < tokens * model.ngrams
    assert 0 < distinct < tokens


def test_words_and_counts_of_rows_with_padding_repeats_and_nothing():
    ids = torch.tensor([[5, 3, 5, 5, 0], [0, 0, 0, 0, 0], [7, 7, 7, 7, 7], [2, 9, 0, 0, 0]])
    pairs, distinct = words_and_counts(ids)
    assert distinct.tolist() == [2, 0, 1, 2]
    assert pairs.tolist() == [3, 1, 5, 3, 7, 5, 2, 1, 9, 1]


def test_a_fit_on_precomputed_features_is_the_fit_on_the_ids(monkeypatch):
    fits, computed = [], []
    real = loop.with_row_features
    monkeypatch.setattr(loop, "with_row_features", lambda *args: computed.append(args[-1]) or real(*args))
    for precompute in (True, False):
        if not precompute:
            monkeypatch.setattr(loop, "precomputable", lambda *_: False)
        model, prepared = prepared_ngram()
        result = loop.train_model(model, prepared.train, prepared.val, CONFIG, log=quiet)
        fits.append((model, result))
    (precomputed, first), (from_ids, second) = fits
    assert computed == ["train", "val"]  # the first fit took the precomputed path, the second the ids
    assert [h["train_loss"] for h in first.history] == pytest.approx([h["train_loss"] for h in second.history],
                                                                     abs=1e-6)
    assert first.best_epoch == second.best_epoch
    for a, b in zip(precomputed.parameters(), from_ids.parameters()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_only_a_compact_ngram_fit_on_unchanging_ids_precomputes():
    model, _ = prepared_ngram()
    assert precomputable(model, word_dropout=0.0, compiled=False)
    assert not precomputable(model, word_dropout=0.1, compiled=False)  # the ids change every epoch
    assert not precomputable(model, word_dropout=0.0, compiled=True)
    assert not precomputable(build_model("ngram", 50, 1, CONFIG.model_hparams()), 0.0, False)  # no compact table
    assert not precomputable(build_model("perceptron", 50, 1, {}), 0.0, False)
