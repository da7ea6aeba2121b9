"""The classifiers: multi-hot layer vs one-hot, hashed n-grams, padding/batch invariance, dropout, heads, NB init."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reviewclf.runtime.ragged import Ragged
from reviewclf.training.encoded_set import EncodedSet
from reviewclf.training.models import (
    MLP,
    MODEL_KINDS,
    MultiHotLinear,
    NGram,
    Perceptron,
    build_model,
    hashed_ngrams,
)
from reviewclf.training.nb import init_from_naive_bayes

HPARAMS = {"hidden": 8, "activation": "tanh", "dropout": 0.0, "dim": 8, "ngrams": 3, "buckets": 257}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def collapsed_one_hot(ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """The book's vectorizer: a vocab-sized vector with 1 for every distinct word of the row (padding: none)."""
    out = np.zeros((ids.shape[0], vocab_size), dtype=np.float64)
    for r, row in enumerate(ids):
        for token in row:
            if token != 0:
                out[r, token] = 1.0
    return out


# ---------------------------------------------------------------- MultiHotLinear


def test_multi_hot_linear_equals_explicit_one_hot_product():
    torch.manual_seed(0)
    vocab, out_features = 50, 3
    layer = MultiHotLinear(vocab, out_features)
    with torch.no_grad():  # weights of a trained size, not the tiny init, so a missed row shows
        layer.weight.normal_()
        layer.weight[0].zero_()  # the padding row stays zero (see the test below)
        layer.bias.normal_()
    ids = np.array(
        [
            [5, 5, 5, 7, 0, 0],  # repeated ids count once
            [0, 0, 0, 0, 0, 0],  # all padding: the bias alone
            [3, 0, 9, 0, 3, 11],  # padding in the middle, repeats around it
            [49, 1, 2, 3, 4, 48],  # the last vocabulary row, [UNK]
            [9, 3, 11, 0, 0, 0],  # the same set as row 2 in another order
        ],
        dtype=np.int64,
    )
    got = layer(torch.from_numpy(ids)).detach().double().numpy()
    weight = layer.weight.detach().double().numpy()
    bias = layer.bias.detach().double().numpy()
    expected = collapsed_one_hot(ids, vocab) @ weight + bias
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(got[1], bias, atol=1e-6, rtol=0)
    np.testing.assert_allclose(got[2], got[4], atol=1e-6, rtol=0)


def test_multi_hot_linear_on_random_batches():
    rng = np.random.default_rng(7)
    torch.manual_seed(1)
    vocab = 30
    layer = MultiHotLinear(vocab, 4)
    with torch.no_grad():
        layer.weight.normal_()
        layer.weight[0].zero_()
    ids = rng.integers(0, vocab, size=(64, 17))  # about 1 in 30 is padding, anywhere in the row; many repeats
    ids[::5] = 0
    got = layer(torch.from_numpy(ids)).detach().double().numpy()
    expected = collapsed_one_hot(ids, vocab) @ layer.weight.detach().double().numpy()
    expected += layer.bias.detach().double().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_multi_hot_linear_gradient_reaches_only_present_words():
    layer = MultiHotLinear(10, 1)
    layer(torch.tensor([[4, 4, 2, 0]])).sum().backward()
    touched = torch.nonzero(layer.weight.grad[:, 0]).flatten().tolist()
    assert touched == [2, 4]
    assert layer.weight.grad[4, 0] == 1.0  # a repeated word counts once, as in the collapsed one-hot


def test_padding_row_starts_at_zero_and_stays_there():
    """Padding contributes nothing because weight row 0 is zero: check it survives training with Adam, weight
    decay and an L1 penalty, while the rows of the words that were seen do move."""
    torch.manual_seed(0)
    for model in (Perceptron(20, 1), MLP(20, 3, hidden=8, activation="relu", dropout=0.0),
                  NGram(20, 1, dim=4, ngrams=2, buckets=16, dropout=0.0)):
        weight = model.first_layer_weight()
        assert torch.count_nonzero(weight[0]) == 0
        start = weight.detach().clone()
        optimizer = torch.optim.Adam(model.parameters(), lr=0.1, weight_decay=0.1)
        ids = torch.randint(1, 20, (16, 6))
        ids[:, 4:] = 0
        ids[3, 1] = 0
        for _ in range(5):
            optimizer.zero_grad()
            loss = model(ids).pow(2).mean() + 0.01 * model.first_layer_weight().abs().sum()
            loss.backward()
            optimizer.step()
        weight = model.first_layer_weight().detach()
        assert torch.count_nonzero(weight[0]) == 0, type(model).__name__
        assert not torch.equal(weight[1:20], start[1:20])


# ---------------------------------------------------------------- hashed n-grams


def reference_valid(ids: np.ndarray, n: int) -> np.ndarray:
    """True where the n-gram starting at a position lies inside the row and touches no padding."""
    seq = ids.shape[1]
    valid = np.zeros(ids.shape, dtype=bool)
    for r in range(ids.shape[0]):
        for i in range(seq):
            valid[r, i] = i + n <= seq and bool(np.all(ids[r, i : i + n] != 0))
    return valid


@pytest.mark.parametrize("n", [2, 3])
def test_hashed_ngrams_range_padding_shape_determinism(n):
    rng = np.random.default_rng(n)
    ids = rng.integers(1, 500, size=(20, 12))
    ids[:, 9:] = 0  # right padding
    ids[3, 4] = 0  # padding in the middle
    ids[5] = 0  # an all-padding row
    ids[6, 1:] = 0  # one word only
    buckets, offset = 97, 1000
    grams = hashed_ngrams(torch.from_numpy(ids), n, buckets, offset)
    assert grams.shape == ids.shape
    assert grams.dtype == torch.int64
    got = grams.numpy()
    valid = reference_valid(ids, n)
    assert np.all(got[~valid] == 0)
    assert np.all((got[valid] >= offset) & (got[valid] < offset + buckets))
    assert valid.sum() > 100  # the check above saw real n-grams
    assert torch.equal(grams, hashed_ngrams(torch.from_numpy(ids.copy()), n, buckets, offset))


def test_hashed_ngrams_depend_on_order_not_position():
    a, b, c = 5, 7, 11
    ids = torch.tensor([[a, b, c, a, b, 0], [b, a, 0, 0, 0, 0]])
    grams = hashed_ngrams(ids, 2, 1 << 20, 100)
    assert grams[0, 0] == grams[0, 3]  # "a b" hashes alike wherever it stands
    assert grams[0, 0] != grams[1, 0]  # "a b" differs from "b a"
    assert grams[0, 4] == 0 and grams[1, 1] == 0  # runs into padding
    trigrams = hashed_ngrams(ids, 3, 1 << 20, 100)
    assert trigrams[0, 0] != trigrams[0, 1]
    assert trigrams[0, 3] == 0  # "a b <pad>"


# ---------------------------------------------------------------- NGram invariances


def ngram_model(n_outputs: int = 1) -> NGram:
    torch.manual_seed(3)
    model = NGram(vocab_size=40, n_outputs=n_outputs, dim=8, ngrams=3, buckets=101, dropout=0.3)
    with torch.no_grad():
        model.sparse.weight.normal_()  # not the all-zero start, so the sparse path is exercised too
        model.sparse.weight[0].zero_()
    return model.eval()


def test_ngram_mean_is_padding_invariant():
    model = ngram_model()
    ids = torch.tensor([[3, 9, 4, 7, 0], [12, 5, 0, 0, 0], [0, 0, 0, 0, 0]])
    base = model(ids)
    for extra in (1, 2, 9):
        padded = torch.cat([ids, torch.zeros(3, extra, dtype=torch.int64)], dim=1)
        torch.testing.assert_close(model(padded), base, atol=1e-6, rtol=0)
    trimmed = model(ids[:2, :4])  # the shortest width that holds both rows
    torch.testing.assert_close(trimmed, base[:2], atol=1e-6, rtol=0)


def test_ngram_is_batch_invariant():
    model = ngram_model(n_outputs=3)
    rows = [[3, 9, 4, 7, 21, 2], [12, 5], [8], [30, 30, 30, 1]]
    width = max(len(r) for r in rows)
    batch = torch.tensor([r + [0] * (width - len(r)) for r in rows])
    together = model(batch)
    for i, row in enumerate(rows):
        alone = model(torch.tensor([row]))
        torch.testing.assert_close(alone[0], together[i], atol=1e-6, rtol=0)


def test_ngram_uses_word_order():
    model = ngram_model()
    forward = model(torch.tensor([[3, 9, 4]]))
    backward = model(torch.tensor([[4, 9, 3]]))
    assert not torch.allclose(forward, backward)  # same words, different bigrams


# ---------------------------------------------------------------- heads


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("n_labels", [2, 4])
def test_probabilities_of_every_model_kind(kind, n_labels):
    torch.manual_seed(0)
    n_outputs = 1 if n_labels == 2 else n_labels
    model = build_model(kind, 60, n_outputs, HPARAMS).eval()
    ids = torch.randint(0, 60, (7, 9))
    ids[2] = 0
    probs = model.probabilities(ids)
    assert probs.shape == (7, n_labels)
    assert torch.all(probs >= 0) and torch.all(probs <= 1)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(7), atol=1e-6, rtol=0)
    logits = model(ids)
    if n_labels == 2:
        torch.testing.assert_close(probs[:, 1], torch.sigmoid(logits[:, 0]))
        assert torch.equal(probs.argmax(dim=1), (logits[:, 0] > 0).long())
    else:
        torch.testing.assert_close(probs, torch.softmax(logits, dim=1))


def test_build_model_kinds_and_unknown_kind():
    assert isinstance(build_model("perceptron", 10, 1, {}), Perceptron)
    assert isinstance(build_model("mlp", 10, 3, HPARAMS), MLP)
    ngram = build_model("ngram", 10, 1, HPARAMS)
    assert isinstance(ngram, NGram)
    assert ngram.n_rows == 10 + 2 * 257  # words, then one block of buckets per n-gram order above 1
    with pytest.raises(ValueError, match="unknown model kind"):
        build_model("transformer", 10, 1, HPARAMS)


def test_first_layer_weight_has_one_row_per_input_id():
    for kind, rows in (("perceptron", 25), ("mlp", 25), ("ngram", 25 + 2 * 257)):
        assert build_model(kind, 25, 1, HPARAMS).first_layer_weight().shape[0] == rows


# ---------------------------------------------------------------- naive-Bayes initialisation

GOOD, BAD, BOTH = 2, 3, 4


def tiny_set() -> EncodedSet:
    """Ten documents; GOOD only in positive ones, BAD only in negative ones, BOTH in all."""
    positive = [[GOOD, BOTH, 5], [BOTH, GOOD], [6, GOOD, BOTH, 7], [GOOD, BOTH], [BOTH, 8, GOOD]]
    negative = [[BAD, BOTH, 5], [BOTH, BAD], [6, BAD, BOTH, 7], [BAD, BOTH], [BOTH, 8, BAD]]
    targets = np.array([1] * 5 + [0] * 5)
    return EncodedSet.build(Ragged.from_rows(positive + negative), targets, torch.device("cpu"))


def test_naive_bayes_init_gives_signed_feature_ratios():
    model = NGram(vocab_size=10, n_outputs=1, dim=4, ngrams=2, buckets=64, dropout=0.0)
    assert torch.count_nonzero(model.sparse.weight) == 0
    init_from_naive_bayes(model, tiny_set(), smoothing=1.0)
    assert torch.count_nonzero(model.sparse.weight) == 0  # NBSVM: the fit starts from zero on scaled features
    weight = model.nb_ratio.detach()[:, 0]
    assert weight[GOOD] > 0.5
    assert weight[BAD] < -0.5
    assert abs(float(weight[BOTH])) < 1e-6  # present in every document of both classes: no evidence
    assert weight[0] == 0  # padding
    assert abs(float(model.sparse.bias.detach()[0])) < 1e-6  # balanced classes: zero log prior odds
    # with unit weights the sparse term is naive Bayes, which already separates the two kinds of documents
    with torch.no_grad():
        model.sparse.weight[1:] = 1.0
    model.eval()
    logits = model(torch.tensor([[GOOD, BOTH], [BAD, BOTH]]))[:, 0]
    assert logits[0] > logits[1]


def test_naive_bayes_init_multi_class():
    rows = [[2, 9], [2], [2], [3, 9], [3], [3], [4, 9], [4], [4]]  # each word in 3 documents (MIN_DOCUMENTS)
    data = EncodedSet.build(Ragged.from_rows(rows), np.array([0, 0, 0, 1, 1, 1, 2, 2, 2]), torch.device("cpu"))
    model = NGram(vocab_size=10, n_outputs=3, dim=4, ngrams=2, buckets=64, dropout=0.0)
    init_from_naive_bayes(model, data, smoothing=1.0)
    weight = model.nb_ratio.detach()
    for word, label in ((2, 0), (3, 1), (4, 2)):
        assert int(weight[word].argmax()) == label
        assert weight[word, label] > 0
    assert torch.allclose(weight[9], weight[9][0].expand(3))  # in one document of every class


def test_naive_bayes_smoothing_shrinks_rare_ngrams_more_than_common_ones():
    """The ratio of an n-gram in 3 positive documents falls further with more smoothing than that of one in
    30: smoothing is a prior toward "no evidence" that only plenty of documents overcome."""
    rare, common, filler = 2, 3, 4
    rows = [[rare, common]] * 3 + [[common]] * 27 + [[filler]] * 30
    targets = np.array([1] * 30 + [0] * 30)
    data = EncodedSet.build(Ragged.from_rows(rows), targets, torch.device("cpu"))
    ratios = {}
    for smoothing in (1.0, 10.0):
        model = NGram(vocab_size=10, n_outputs=1, dim=4, ngrams=2, buckets=64, dropout=0.0)
        init_from_naive_bayes(model, data, smoothing=smoothing)
        ratios[smoothing] = model.nb_ratio.detach()[:, 0]
    assert ratios[10.0][rare] > 0 and ratios[10.0][common] > 0
    assert ratios[10.0][rare] / ratios[1.0][rare] < ratios[10.0][common] / ratios[1.0][common]


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_naive_bayes_ratios_taken_block_by_block_are_those_of_one_block(monkeypatch, n_outputs):
    """Blocks of 7 rows cut the words and every n-gram table mid-way: the same ratios, bit for bit."""
    from reviewclf.training import nb

    data = tiny_set()
    if n_outputs > 1:
        data.targets[:3] = 2
    ratios = []
    for rows in (1 << 20, 7):
        monkeypatch.setattr(nb, "RATIO_BLOCK_ROWS", rows)
        model = NGram(vocab_size=10, n_outputs=n_outputs, dim=4, ngrams=3, buckets=64, dropout=0.0)
        init_from_naive_bayes(model, data, smoothing=1.0)
        ratios.append(model.nb_ratio.detach().clone())
    assert torch.count_nonzero(ratios[0][10:]) > 0  # hashed n-grams carry evidence too, not only words
    assert torch.equal(ratios[0], ratios[1])
    assert torch.all(ratios[1][0] == 0)  # padding, in the first block only


def test_export_folding_keeps_the_ngram_outputs():
    model = NGram(vocab_size=30, n_outputs=1, dim=4, ngrams=3, buckets=64, dropout=0.0).eval()
    with torch.no_grad():
        model.sparse.weight.normal_()
        model.nb_ratio.uniform_(-2.0, 2.0)
    ids = torch.tensor([[3, 4, 5, 3, 0], [7, 0, 0, 0, 0], [0, 0, 0, 0, 0]])
    before = model(ids).detach()
    model.prepare_for_export()
    assert model.nb_ratio.numel() == 1  # the ratio table is folded away, not exported twice
    assert torch.allclose(model(ids), before, atol=1e-6)


def test_naive_bayes_ignores_ngrams_of_fewer_than_min_documents():
    from reviewclf.training.nb import MIN_DOCUMENTS

    rare, common = 5, 2
    rows = [[common, rare]] + [[common]] * (2 * MIN_DOCUMENTS)
    data = EncodedSet.build(Ragged.from_rows(rows), np.array([1] * len(rows)), torch.device("cpu"))
    data.targets[MIN_DOCUMENTS + 1 :] = 0  # common is in both classes, rare in one positive document
    model = NGram(vocab_size=10, n_outputs=1, dim=4, ngrams=2, buckets=64, dropout=0.0)
    init_from_naive_bayes(model, data, smoothing=1.0)
    assert model.nb_ratio[rare, 0] == 0.0
    assert model.nb_ratio[common, 0] != 0.0


def nb_initialized_pair(n_outputs: int) -> tuple[NGram, NGram, EncodedSet]:
    """Two identical naive-Bayes-initialized ngram models, the second trained on its rows with evidence only."""
    data = tiny_set()
    if n_outputs > 1:
        data.targets[:3] = 2  # a third class: the kept rows are those with evidence for any class
    models = []
    for _ in range(2):
        torch.manual_seed(5)
        model = NGram(vocab_size=10, n_outputs=n_outputs, dim=4, ngrams=3, buckets=64, dropout=0.0)
        init_from_naive_bayes(model, data, smoothing=1.0)
        models.append(model)
    return models[0], models[1], data


@pytest.mark.parametrize("sparse_gradients", [False, True])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_training_only_the_rows_with_evidence_trains_the_same_model(n_outputs, sparse_gradients):
    """A row whose naive-Bayes ratio is zero never moves, so leaving it out of training changes nothing: the
    compact model follows the full one step for step (its padding row held at zero by its zero ratio, not by
    ``padding_idx``), and export expands it to the same full table."""
    from reviewclf.training.loop import loss_fn
    from reviewclf.training.models import use_sparse_gradients
    from reviewclf.training.sparse_grads import DenseGradients

    full, compact, data = nb_initialized_pair(n_outputs)
    with_evidence = int(full.nb_ratio.ne(0).any(dim=1).sum())
    assert 0 < with_evidence < full.n_rows
    assert compact.keep_rows_with_evidence() == with_evidence + 1  # and the padding row
    assert compact.sparse.weight.shape == (with_evidence + 1, n_outputs)
    ids, targets = data.batch(torch.arange(len(data)))
    ids = torch.cat([ids, torch.zeros_like(ids[:, :2])], dim=1)  # padding positions, which map to compact row 0
    optimizers = [torch.optim.Adam(model.parameters(), lr=0.05, weight_decay=0.01) for model in (full, compact)]
    gradients = [DenseGradients(), DenseGradients()]
    for model in (full, compact):
        use_sparse_gradients(model, sparse_gradients)
    for _ in range(5):
        for model, optimizer, dense in zip((full, compact), optimizers, gradients):
            optimizer.zero_grad()
            loss_fn(model(ids), targets).backward()
            dense.densify(model.parameters())
            optimizer.step()
    assert torch.all(compact.sparse.weight[0] == 0)
    torch.testing.assert_close(compact(ids), full(ids), atol=1e-6, rtol=0)
    for model in (full, compact):
        model.prepare_for_export()
    assert compact.sparse.weight.shape == full.sparse.weight.shape == (full.n_rows, n_outputs)
    assert int(full.sparse.weight.ne(0).any(dim=1).sum()) > 0
    torch.testing.assert_close(compact.sparse.weight, full.sparse.weight, atol=1e-6, rtol=0)
    assert compact.state_dict().keys() == full.state_dict().keys()  # no training-only table is saved


def test_ngram_sparse_term_counts_words_once_and_longer_ngrams_each_time():
    """Words are NBSVM's binarized features; hashed bigrams/trigrams are summed as they come (see NGram)."""
    model = NGram(vocab_size=10, n_outputs=1, dim=4, ngrams=2, buckets=64, dropout=0.0).eval()
    with torch.no_grad():
        model.embedding.weight.zero_()
        model.fc.bias.zero_()
        model.sparse.weight.fill_(1.0)
        model.sparse.weight[0].zero_()
    # "3 4 3 4 3": two distinct words, and the bigrams 3-4, 4-3, 3-4, 4-3 (two distinct ones, each twice)
    logit = model(torch.tensor([[3, 4, 3, 4, 3]]))
    assert logit.item() == pytest.approx(2 + 4)


def test_ngram_sums_in_float32_for_training_and_in_float64_for_export():
    model = ngram_model(n_outputs=3)
    ids = torch.randint(1, 40, (5, 300))
    assert not model.float64_sum
    training = model(ids)
    model.prepare_for_export()
    assert model.float64_sum
    torch.testing.assert_close(model(ids), training, atol=1e-4, rtol=0)


def test_ngram_checkpoint_holds_the_folded_weights_only():
    """A run saves the model after ``prepare_for_export``: one table, reloadable into a fresh model."""
    model = NGram(vocab_size=30, n_outputs=1, dim=4, ngrams=3, buckets=64, dropout=0.0).eval()
    with torch.no_grad():
        model.sparse.weight.normal_()
        model.nb_ratio.uniform_(-2.0, 2.0)
    model.prepare_for_export()
    state = model.state_dict()
    assert "nb_ratio" not in state
    fresh = NGram(vocab_size=30, n_outputs=1, dim=4, ngrams=3, buckets=64, dropout=0.0).eval()
    fresh.load_state_dict(state)
    fresh.prepare_for_export()
    ids = torch.tensor([[3, 4, 5, 3, 0], [7, 0, 0, 0, 0]])
    torch.testing.assert_close(fresh(ids), model(ids), atol=0, rtol=0)


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
