"""The fitted WordLevel tokenizer: PAD and UNK ids, min_freq, truncation, and normalization kept in tokenizer.json."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from tokenizers import Tokenizer

from reviewclf.io.labeled import read_labeled
from reviewclf.runtime.encoding import PAD_ID, PAD_TOKEN, UNK_TOKEN, TextEncoder
from reviewclf.training.vocabulary import fit_encoder


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


def test_contractions_stay_one_token_and_punctuation_runs_split_off():
    encoder = fit_encoder(["I didn't like it!!! The cast’s fault :-)"], min_freq=1, max_length=64)
    assert encoder.tokens("I DIDN'T like it!!!<br />The cast’s 'fault' :-)") == [
        "i", "didnt", "like", "it", "!!!", "the", "casts", "fault", ":-)"]
    assert encoder.tokens("didnt") == encoder.tokens("didn't")  # the apostrophe-less spelling is the same word


def test_texts_fed_to_the_trainer_in_batches_give_the_vocabulary_of_one_text_a_call(yelp):
    from tokenizers import trainers

    from reviewclf.training.vocabulary import in_batches, new_tokenizer

    texts = yelp.texts[:2500]  # more than one batch, the last one partial
    assert [text for batch in in_batches(iter(texts), 1000) for text in batch] == texts
    assert [len(batch) for batch in in_batches(texts, 1000)] == [1000, 1000, 500]
    one_a_call = new_tokenizer()
    trainer = trainers.WordLevelTrainer(min_frequency=2, vocab_size=1 << 30, special_tokens=[PAD_TOKEN, UNK_TOKEN],
                                        show_progress=False)
    one_a_call.train_from_iterator(texts, trainer=trainer, length=len(texts))
    fitted = fit_encoder(iter(texts), min_freq=2, max_length=256, length=len(texts))
    assert fitted.tokenizer.get_vocab() == one_a_call.get_vocab(with_added_tokens=False)
