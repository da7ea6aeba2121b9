"""The token store: each split encoded once into flat files, trained from in memory or read by row from the
files, the same ids and batches as the texts encoded in memory; and the key of its cache."""

from __future__ import annotations

import pytest
import torch

from reviewclf.io.labeled import read_labeled
from reviewclf.training import encoded_set
from reviewclf.training.config import TrainConfig
from reviewclf.training.encoded_set import EncodedSet
from reviewclf.training.prepare import Preparer
from reviewclf.training.token_store import store_key
from tests.support import DATA
from tests.training.support import CPU, quiet

PIPELINE = "the tokenizer pipeline"


def demo_lists():
    data = read_labeled(DATA / "uci-sentences" / "amazon_cells_labelled.txt", format="tabbed")
    texts, labels = data.texts, data.labels
    return texts[:700], labels[:700], texts[700:850], labels[700:850], texts[850:], labels[850:]


@pytest.mark.parametrize("held_in_memory", [True, False])
def test_stored_splits_give_the_ids_of_the_texts_encoded_in_memory(monkeypatch, held_in_memory):
    if not held_in_memory:  # every split over the size the CPU holds in memory: read by row from its file
        monkeypatch.setattr(encoded_set, "IN_MEMORY_BYTES", 0)
    lists = demo_lists()
    prepared = Preparer.of_lists(*lists, quiet)(TrainConfig(min_freq=1, device="cpu"))
    assert prepared.rows == {"train": 700, "val": 150, "test": 150}
    assert prepared.heldout == lists[4][:256]
    for part, texts in ((prepared.train, lists[0]), (prepared.val, lists[2]), (prepared.test, lists[4])):
        assert (part.rows is None) == held_in_memory and (part.ids is None) != held_in_memory
        in_memory = EncodedSet.build(prepared.encoder.encode_flat(texts), part.targets.numpy(), CPU)
        index = torch.tensor([5, 0, 99, 3, 42])
        for _ in range(3):
            ids, targets = part.batch(index)
            expected_ids, expected_targets = in_memory.batch(index)
            assert torch.equal(ids, expected_ids) and torch.equal(targets, expected_targets)
    labels = sorted(set(lists[1]))
    assert prepared.train.targets.tolist() == [labels.index(x) for x in lists[1]]


def test_the_key_changes_with_the_data_and_the_tokenizer_options_only(tmp_path):
    data = tmp_path / "reviews.tsv"
    data.write_text("good food\t1\nbad food\t0\n", encoding="utf-8")
    base = TrainConfig(data=[str(data)], format="tabbed")
    key = store_key(base, PIPELINE)
    same = [TrainConfig(data=[str(data)], format="tabbed", model="ngram", lr=0.5, epochs=3)]
    changed = [TrainConfig(data=[str(data)], format="tabbed", min_freq=5),
               TrainConfig(data=[str(data)], format="tabbed", max_length=7),
               TrainConfig(data=[str(data)], format="tabbed", seed=2),
               TrainConfig(data=[str(data)], format="tabbed", val_fraction=0.3),
               TrainConfig(data=[str(data)], format="tsv")]
    assert all(store_key(c, PIPELINE) == key for c in same)
    assert all(store_key(c, PIPELINE) != key for c in changed)
    assert store_key(base, PIPELINE + " changed") != key
    assert store_key(base, PIPELINE, encoder_json="{}") != key
    data.write_text("good food\t1\nbad food\t0\nfine\t1\n", encoding="utf-8")
    assert store_key(base, PIPELINE) != key
