"""Word dropout on id batches (rate, padding, seeding) and the parsing of --augment specs."""

from __future__ import annotations

import pytest
import torch

from reviewclf.errors import ReviewclfError
from reviewclf.training.augment import parse_augment, word_dropout

pytestmark = pytest.mark.usefixtures("one_torch_thread")


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
