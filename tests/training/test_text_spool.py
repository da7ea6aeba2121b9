"""The spool of a run's texts: written once, read back by row in blocks, exactly as written."""

from __future__ import annotations

import numpy as np

from reviewclf.io.labeled import read_labeled
from reviewclf.training.text_spool import TextList, TextSpool
from tests.support import DATA

TEXTS = ["Great food!", "", "café, naïve 🙂", "line one\nline two", "lone \ud800 surrogate", "x" * 5000, "ok"]


def spooled(tmp_path, texts):
    spool = TextSpool(tmp_path / "texts.bin")
    for text in texts:
        spool.add(text)
    return spool.close()


def test_texts_come_back_exactly_in_the_order_asked_for(tmp_path):
    spool = spooled(tmp_path, TEXTS)
    assert len(spool) == len(TEXTS)
    rows = np.array([5, 0, 4, 2, 6, 1, 3])
    blocks = list(spool.blocks(rows, size=3))
    assert [len(b) for b in blocks] == [3, 3, 1]
    assert [t for b in blocks for t in b] == [TEXTS[i] for i in rows]
    assert list(spool.blocks(np.zeros(0, dtype=np.int64))) == []


def test_a_list_and_a_spool_give_the_same_blocks(tmp_path):
    spool = spooled(tmp_path, TEXTS)
    rows = np.array([1, 2, 3, 6])
    assert list(TextList(TEXTS).blocks(rows, size=2)) == list(spool.blocks(rows, size=2))


def test_a_reader_streams_its_texts_into_the_spool_in_row_order(tmp_path):
    path = DATA / "uci-sentences" / "yelp_labelled.txt"
    whole = read_labeled(path, format="tabbed")
    spool = TextSpool(tmp_path / "texts.bin")
    streamed = read_labeled(path, format="tabbed", sink=spool.add)
    spool.close()
    assert streamed.texts == [] and streamed.labels == whole.labels
    assert [t for b in spool.blocks(np.arange(len(spool))) for t in b] == whole.texts
