"""Naive-Bayes log-count ratios (NBSVM, Wang & Manning 2012) as the feature scaling of the sparse term.

The ratio r = log(p / |p|) - log(q / |q|) of smoothed n-gram presence counts in one class (p) against the
rest (q) is what NBSVM scales its binarized features by before fitting a linear model on them.
"""

from __future__ import annotations

import torch

from .encoded_set import EncodedSet
from .models import NGram, distinct_ids

# An n-gram seen in fewer training documents than this gets a zero ratio, i.e. no weight: a rare n-gram (a
# movie title, a name) fits its few training reviews perfectly and generalizes badly. 3 rather than 5
# because a higher cut-off starts to cost accuracy on short texts (SST-2).
MIN_DOCUMENTS = 3
BATCH = 1024
RATIO_BLOCK_ROWS = 1 << 18


@torch.no_grad()
def presence_counts(model: NGram, data: EncodedSet, n_classes: int) -> torch.Tensor:
    """``[n_rows, n_classes]``: in how many documents of each class every n-gram id occurs."""
    counts = torch.zeros(model.n_rows, n_classes, device=data.device)
    flat = counts.view(-1)  # (n-gram, class) pairs counted on the flat view: scatter_add runs in parallel there
    for index in data.passes(BATCH):
        ids, targets = data.batch(index)
        grams = distinct_ids(model.sparse_features(ids))  # presence: every n-gram once per document
        pairs = (grams * n_classes + targets.unsqueeze(1))[grams != 0]
        flat.scatter_add_(0, pairs, torch.ones(len(pairs), device=flat.device))
    return counts


@torch.no_grad()
def init_from_naive_bayes(model: NGram, data: EncodedSet, smoothing: float, prior: bool = True) -> None:
    """Scale the sparse features by their one-vs-rest log-count ratios, ``smoothing`` pseudo-documents added to
    every count; start the bias at the class log-odds (at zero without ``prior``).

    The sparse weights stay at zero: training then fits NBSVM's logistic regression on the scaled features.
    Adam moves every weight by about the learning rate per step whatever its feature's frequency, so a feature
    learns at a speed proportional to its ratio: smoothing keeps a rare n-gram's ratio small, and with it how
    fast the model memorizes the training sample's rare phrases.
    """
    n_classes = max(model.n_outputs, 2)
    counts = presence_counts(model, data, n_classes)
    # every row gets the pseudo-documents, so they count in the class totals
    totals = counts.sum(dim=0, keepdim=True) + smoothing * model.n_rows
    others = totals.sum() - totals
    columns = slice(1, 2) if model.n_outputs == 1 else slice(None)
    model.nb_ratio.zero_()
    # the ratios are taken only where there is evidence (most hashed rows hold none), a block of rows at a time:
    # their temporaries, several per evident row, would otherwise grow with the data and set a large run's peak
    for start in range(0, model.n_rows, RATIO_BLOCK_ROWS):
        block = counts[start : start + RATIO_BLOCK_ROWS]
        evident = torch.nonzero(block.sum(dim=1) >= MIN_DOCUMENTS).flatten()
        if start == 0:
            evident = evident[evident != 0]  # padding carries no evidence
        smoothed = block[evident] + smoothing
        rest = smoothed.sum(dim=1, keepdim=True) - smoothed
        ratio = torch.log(smoothed / totals) - torch.log(rest / others)
        model.nb_ratio[start + evident] = ratio[:, columns]
    del counts
    docs = torch.bincount(data.targets, minlength=n_classes).float().clamp(min=1.0)
    log_odds = torch.log(docs / (docs.sum() - docs))
    if model.n_outputs == 1:
        log_odds = log_odds[1:2]
    model.sparse.bias.copy_(log_odds if prior else torch.zeros_like(log_odds))
