"""The classifiers. Every model maps int64 ids ``[batch, seq]`` (0 = padding) to logits, so every model
exports with the same input signature and the runtime never needs to know which one it serves.

* ``perceptron``: the book's single linear layer over the collapsed one-hot (multi-hot) bag of words.
* ``mlp``: the same multi-hot input, one hidden layer with a chosen non-linearity, dropout, an output layer.
* ``ngram``: fastText's design, word embeddings, masked mean pooling and a linear layer, plus a
  naive-Bayes-weighted linear term over the words and their hashed bigrams (+ trigrams) (NBSVM).

Binary problems have one output logit (sigmoid + BCE, as in the book); more labels have one logit each.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

MODEL_KINDS = ("perceptron", "mlp", "ngram")
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def unique_mask(sorted_ids: torch.Tensor) -> torch.Tensor:
    """True at the first occurrence of each non-padding id in rows sorted ascending.

    Compares each id with its left neighbour through ``roll`` rather than two ``seq - 1`` slices: the
    slices make torch.export specialise on ``seq != 2``.
    """
    first_column = torch.arange(sorted_ids.shape[1], device=sorted_ids.device) == 0
    changed = sorted_ids != torch.roll(sorted_ids, 1, dims=1)
    return (changed | first_column) & (sorted_ids != 0)


def distinct_ids(ids: torch.Tensor) -> torch.Tensor:
    """Each row's ids sorted, with repeats (and padding) replaced by 0, so every word counts once."""
    sorted_ids, _ = torch.sort(ids, dim=1)
    return torch.where(unique_mask(sorted_ids), sorted_ids, torch.zeros_like(sorted_ids))


class MultiHotLinear(nn.Module):
    """``Linear(vocab, out)`` applied to the 0/1 presence vector of the ids, without building that vector.

    Summing the weight rows of the distinct ids is exactly the matrix product with the collapsed one-hot
    vector the book builds in Python, but costs O(seq) instead of O(vocab) and exports to ONNX as a sort
    and a gather. Repeated ids are redirected to row 0 (padding), which is held at zero and never
    receives a gradient, so no mask multiplication is needed.
    """

    def __init__(self, vocab_size: int, out_features: int):
        super().__init__()
        self.sparse_gradients = False  # set by ``use_sparse_gradients``
        bound = 1.0 / math.sqrt(vocab_size)
        self.weight = nn.Parameter(torch.empty(vocab_size, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        with torch.no_grad():
            self.weight[0].zero_()

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        rows = F.embedding(distinct_ids(ids), self.weight, padding_idx=0, sparse=self.sparse_gradients)
        return rows.sum(dim=1) + self.bias


def use_sparse_gradients(model: nn.Module, on: bool) -> None:
    """Make every embedding table of ``model`` return sparse gradients (the rows a batch touched) or dense
    ones. On the CPU the dense backward of a table of millions of rows allocates, sorts and fills a table-sized
    gradient at every batch; ``sparse_grads.DenseGradients`` turns the sparse one into the same dense values."""
    for module in model.modules():
        if isinstance(module, nn.Embedding):
            module.sparse = on
        elif isinstance(module, MultiHotLinear):
            module.sparse_gradients = on


class Classifier(nn.Module):
    """Common head: logits -> probabilities over the labels (two columns for the binary sigmoid).

    Subclasses set ``self.n_outputs`` (1 for a binary sigmoid head). No class-level annotations: TorchScript
    cannot resolve the string annotations ``from __future__ import annotations`` makes.
    """

    def probabilities(self, ids: torch.Tensor) -> torch.Tensor:
        logits = self(ids).float()
        if self.n_outputs == 1:
            positive = torch.sigmoid(logits)
            return torch.cat([1.0 - positive, positive], dim=1)
        return torch.softmax(logits, dim=1)

    def first_layer_weight(self) -> torch.Tensor:
        """The weights L1 regularization pulls to zero (the input layer: one row per word)."""
        raise NotImplementedError

    def prepare_for_export(self) -> None:
        """Fold training-only structure into plain weights (a no-op for most models)."""


class Perceptron(Classifier):
    def __init__(self, vocab_size: int, n_outputs: int):
        super().__init__()
        self.n_outputs = n_outputs
        self.fc = MultiHotLinear(vocab_size, n_outputs)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.fc(ids)

    def first_layer_weight(self) -> torch.Tensor:
        return self.fc.weight


class MLP(Classifier):
    def __init__(self, vocab_size: int, n_outputs: int, hidden: int, activation: str, dropout: float):
        super().__init__()
        self.n_outputs = n_outputs
        self.fc1 = MultiHotLinear(vocab_size, hidden)
        self.activation = ACTIVATIONS[activation]()
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, n_outputs)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(self.activation(self.fc1(ids))))

    def first_layer_weight(self) -> torch.Tensor:
        return self.fc1.weight


def hashed_ngrams(ids: torch.Tensor, n: int, buckets: int, offset: int) -> torch.Tensor:
    """Ids of the word n-grams starting at each position, hashed into ``[offset, offset + buckets)``; 0 where
    the n-gram runs into padding. Same shape as ``ids`` (the row is right-padded with ``n - 1`` zeros, so no
    shape depends on ``seq - n + 1``, which torch.export would have to specialise). Computed in int64 inside
    the model, so ONNX Runtime reproduces it exactly."""
    seq = ids.shape[1]
    padded = torch.cat([ids, torch.zeros_like(ids[:, :1]).expand(-1, n - 1)], dim=1)
    h = ids
    valid = ids != 0
    for k in range(1, n):
        nxt = padded[:, k : k + seq]
        # a literal, not a module constant: TorchScript cannot close over globals. h < buckets < 2**31 and
        # the multiplier < 2**20, so the product stays inside int64.
        h = (h * 1_000_003 + nxt) % buckets
        valid = valid & (nxt != 0)
    return torch.where(valid, h + offset, torch.zeros_like(h))


class NGram(Classifier):
    """fastText-style word embeddings with masked mean pooling, plus an NBSVM term over the words and their
    hashed n-grams, summed into one logit: an ensemble inside one graph.

    Sparse rows: [0, vocab) words, then ``buckets`` rows per n-gram order. The NBSVM term (Wang & Manning
    2012) is a linear model over the n-grams with each feature scaled by its naive-Bayes log-count ratio
    ``nb_ratio`` (set by ``nb.init_from_naive_bayes``; ones otherwise): its weight is
    ``sparse.weight * nb_ratio``, so n-grams with strong class evidence learn fastest; rows with a zero ratio
    never move, so a fit trains only the others (``keep_rows_with_evidence``). Export folds the product into
    one table of every hashed row. The dense path embeds words only: n-gram embeddings made fastText worse on IMDB
    here and would multiply the bundle size, while the sparse term gets the n-grams' evidence for one float.

    Words count once per review (NBSVM's binarized features: "the" 15 times is no evidence), while the
    longer n-grams are summed as they come: they rarely repeat inside a review, and deduplicating only the
    words sorts a third of the ids, which serves markedly faster for about the same accuracy.
    """

    def __init__(self, vocab_size: int, n_outputs: int, dim: int, ngrams: int, buckets: int, dropout: float):
        super().__init__()
        self.n_outputs = n_outputs
        self.vocab_size = vocab_size
        self.ngrams = ngrams
        self.buckets = buckets
        self.n_rows = vocab_size + buckets * (ngrams - 1)
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        nn.init.uniform_(self.embedding.weight, -1.0 / dim, 1.0 / dim)
        with torch.no_grad():
            self.embedding.weight[0].zero_()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(dim, n_outputs)
        self.sparse = MultiHotLinear(self.n_rows, n_outputs)
        with torch.no_grad():
            self.sparse.weight.zero_()
            self.sparse.bias.zero_()
        # not persistent: a run folds it into the weight before saving (``prepare_for_export``), so checkpoints
        # and the best-epoch copies hold one table, not two
        self.register_buffer("nb_ratio", torch.ones(self.n_rows, n_outputs), persistent=False)
        self.nb_folded = False
        # Training-only (``keep_rows_with_evidence``; empty otherwise): hashed row -> row of the compact sparse
        # table (0: a row without naive-Bayes evidence, which can never move, and padding)
        self.register_buffer("compact_row", torch.zeros(0, dtype=torch.int32), persistent=False)
        # The sparse sum runs in float32 in training (fast on every device, and Apple's MPS has no float64)
        # and in float64 once prepared for export: a long review adds up about a thousand weights, and
        # float32 sums taken in a different order by torch and ONNX Runtime come close to the export check's
        # tolerance; in float64 they agree far inside it.
        self.float64_sum = False

    def sparse_features(self, ids: torch.Tensor) -> torch.Tensor:
        """The ids the sparse term sums: each distinct word once, then the hashed 2..n-grams (0 = padding)."""
        parts = [distinct_ids(ids)]
        for n in range(2, self.ngrams + 1):
            parts.append(hashed_ngrams(ids, n, self.buckets, self.vocab_size + self.buckets * (n - 2)))
        return torch.cat(parts, dim=1)

    def table_rows(self, ids: torch.Tensor) -> torch.Tensor:
        """The rows of the sparse table that ``ids`` sum: the sparse features, mapped to the compact table's
        rows while a fit trains only the rows with evidence."""
        features = self.sparse_features(ids)
        if self.compact_row.numel() > 0:
            features = self.compact_row[features]
        return features

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        # padding embeds to the zero row (padding_idx), so the sum needs no mask; only the count does
        count = (ids != 0).sum(dim=1, keepdim=True).clamp(min=1).to(self.embedding.weight.dtype)
        mean = self.embedding(ids).sum(dim=1) / count
        return self.logits(mean, self.table_rows(ids))

    def forward_rows(self, words: torch.Tensor, weights: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """``forward`` from what training computes once per review (``row_features``): its distinct ``words``
        with their share of its tokens as ``weights`` (the mean embedding, from about half the rows) and its
        ``table_rows``. Padding (0) anywhere, and any order, give the same logits up to float rounding."""
        mean = (self.embedding(words) * weights.unsqueeze(-1)).sum(dim=1)
        return self.logits(mean, features)

    def logits(self, mean: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """The dense part on the mean word embedding plus the NBSVM term over the sparse table's rows."""
        compact = self.compact_row.numel() > 0
        # compact row 0 (padding, and every hashed row without evidence) has a zero ratio, so its gradient is zero
        # without ``padding_idx``, whose masking was a sixth of a CPU training step
        terms = F.embedding(features, self.sparse.weight, padding_idx=None if compact else 0,
                            sparse=self.sparse.sparse_gradients)
        if not self.nb_folded:
            # scale the gathered rows, not the table: ``weight * nb_ratio`` would build (and back-propagate
            # through) two more tables the size of the weight at every step
            terms = terms * F.embedding(features, self.nb_ratio)
        sparse = terms.double().sum(dim=1).to(terms.dtype) if self.float64_sum else terms.sum(dim=1)
        return self.fc(self.dropout(mean)) + sparse + self.sparse.bias

    def first_layer_weight(self) -> torch.Tensor:
        return self.sparse.weight

    @torch.no_grad()
    def keep_rows_with_evidence(self) -> int:
        """Train only the sparse rows whose naive-Bayes ratio is not zero; the number of rows kept.

        A row with a zero ratio has a zero gradient, so its weight never leaves zero: keeping only the others
        computes the same model, while the optimizer step, the gradient and every checkpoint copy cost the
        (often 10-50x) smaller table instead of all the hashed buckets. Export expands it back.
        """
        if self.compact_row.numel() > 0 or self.nb_folded:
            return int(self.sparse.weight.shape[0])
        kept = torch.nonzero(self.nb_ratio.ne(0).any(dim=1)).flatten()
        kept = torch.cat([kept.new_zeros(1), kept[kept != 0]])  # compact row 0 stays the padding row
        self.compact_row = torch.zeros(self.n_rows, dtype=torch.int32, device=kept.device)
        self.compact_row[kept] = torch.arange(len(kept), dtype=torch.int32, device=kept.device)
        self.sparse.weight = nn.Parameter(self.sparse.weight[kept])
        self.nb_ratio = self.nb_ratio[kept]
        self.nb_ratio[0] = 0.0  # what holds the padding row still: ``forward`` gives it no padding_idx
        return len(kept)

    def prepare_for_export(self) -> None:
        """Store ``weight * nb_ratio`` as the weight of every hashed row, so the exported graph holds one table,
        not two; sum the sparse term in float64 so that every backend computes the same probabilities."""
        self.float64_sum = True
        with torch.no_grad():
            if not self.nb_folded:
                folded = self.sparse.weight * self.nb_ratio
                if self.compact_row.numel() > 0:
                    # every hashed row takes its compact row's weight; those without evidence map to compact row
                    # 0, which is zeroed (no kept list: it would cost 8 bytes a trained row all through training)
                    folded[0] = 0.0
                    folded = folded.index_select(0, self.compact_row)
                    self.compact_row = self.compact_row[:0]
                self.sparse.weight = nn.Parameter(folded)
                self.nb_ratio = torch.ones(1, self.n_outputs, device=folded.device)
                self.nb_folded = True


def build_model(kind: str, vocab_size: int, n_outputs: int, hparams: dict[str, Any]) -> Classifier:
    """Build a model from the hyper-parameters stored in a run directory or a bundle manifest."""
    if kind == "perceptron":
        return Perceptron(vocab_size, n_outputs)
    if kind == "mlp":
        return MLP(vocab_size, n_outputs, hidden=hparams["hidden"], activation=hparams["activation"],
                   dropout=hparams["dropout"])
    if kind == "ngram":
        return NGram(vocab_size, n_outputs, dim=hparams["dim"], ngrams=hparams["ngrams"],
                     buckets=hparams["buckets"], dropout=hparams["dropout"])
    raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(MODEL_KINDS)}")
