"""TextEncoder: the one text -> ids path. Special tokens spelled in review text, old tokenizer.json files that
match them, input order across the two producers, and the padded matrix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from reviewclf.runtime.bundle import TOKENIZER
from reviewclf.runtime.encoding import PAD_ID, UNK_TOKEN, TextEncoder
from reviewclf.runtime.predictor import Predictor
from reviewclf.training.vocabulary import fit_encoder

OLD_TOKENIZER = Path(__file__).parent / "data" / "tokenizer-added-special-tokens.json"
TRAIN = ["great food, would return!", "x [pad] y [unk] z", "bad service :-(", "the [ ] brackets"]
SPELLED = ["x[PAD]y", "[UNK] food", "x [PAD] y", "[pad]", "café [PAD]"]


def test_special_tokens_spelled_in_a_review_are_ordinary_words() -> None:
    """``[PAD]`` in a review is lowercased and split like any text: ``[`` ``pad`` ``]``, never id 0 or UNK."""
    encoder = fit_encoder(TRAIN, min_freq=1, max_length=12)
    assert json.loads(encoder.to_str())["added_tokens"] == []
    assert encoder.tokens("x[PAD]y") == ["x", "[", "pad", "]", "y"]
    rows = encoder.encode_ragged(SPELLED)
    assert rows[0] == encoder.encode_ragged(["x [ pad ] y"])[0] == encoder.encode_ragged(["x[pad]y"])[0]
    unk = encoder.tokenizer.token_to_id(UNK_TOKEN)
    assert all(PAD_ID not in row for row in rows)
    assert all(unk not in row for row in rows[:4])  # every piece is in the vocabulary; only "café" is unknown
    plain = Tokenizer.from_str(encoder.to_str())  # the file alone, as any consumer reads it
    assert [plain.encode(t, add_special_tokens=False).ids for t in SPELLED] == rows
    assert TextEncoder(encoder.tokenizer, fast_path=False).encode_ragged(SPELLED) == rows


def test_training_and_serving_read_one_tokenizer_json(demo_run: Path, demo_bundle: Path) -> None:
    """The bundle carries the run's tokenizer.json byte for byte, so the ids a model was trained on are the
    ids it is served, special tokens spelled in text included."""
    assert (demo_bundle / TOKENIZER).read_bytes() == (demo_run / "tokenizer.json").read_bytes()
    served = Predictor.load(demo_bundle).encoder
    assert json.loads(served.to_str())["added_tokens"] == []
    trained = TextEncoder.from_file(demo_run / "tokenizer.json")
    assert served.encode_ragged(SPELLED) == trained.encode_ragged(SPELLED)
    assert all(PAD_ID not in row for row in served.encode_ragged(SPELLED))


def test_an_old_tokenizer_json_keeps_matching_special_tokens_in_raw_text() -> None:
    """A file written with [PAD]/[UNK] as added tokens keeps its behaviour: the contract is the file. The fast
    path leaves the texts that spell them to tokenizers."""
    old = TextEncoder.from_file(OLD_TOKENIZER)
    plain = Tokenizer.from_file(str(OLD_TOKENIZER))
    assert old.fast_path is not None and old.fast_path.guards == ("[PAD]", "[UNK]")
    assert old.encode_ragged(["x[PAD]y", "[UNK] food", "x[pad]y"]) == [[17, 0, 18], [1, 9], [17, 2, 11, 3, 18]]
    rows, others = old.fast_path.encode_where_exact(["x[PAD]y", "x[pad]y", "[UNK] food"])
    assert others == [0, 2] and rows.rows()[1] == [17, 2, 11, 3, 18]
    assert old.encode_ragged(SPELLED) == [plain.encode(t, add_special_tokens=False).ids for t in SPELLED]


def test_mixed_batches_keep_input_order() -> None:
    encoder = fit_encoder(TRAIN, min_freq=1, max_length=12)
    texts = ["great food", "ΣΑΣ food", "café’s", "x[PAD]y", "日本 service", "would return"] * 3
    assert encoder.fast_path is not None
    _, others = encoder.fast_path.encode_where_exact(texts)
    assert others == [1, 4, 7, 10, 13, 16]  # characters beyond U+00FF (but ’) go to tokenizers
    expected = [e.ids for e in encoder.tokenizer.encode_batch(texts, add_special_tokens=False)]
    assert encoder.encode_ragged(texts) == expected
    assert encoder.encode_ragged(tuple(texts)) == encoder.encode_ragged(iter(texts)) == expected
    assert encoder.encode_ragged([]) == []


def test_truncation_and_padding() -> None:
    encoder = fit_encoder(["a b c d e f"], min_freq=1, max_length=4)
    ids = encoder.encode(["a b c d e f", "", "é a"])
    assert ids.dtype == np.int64 and ids.shape == (3, 4)
    a = encoder.tokenizer.token_to_id("a")
    assert ids[1].tolist() == [0, 0, 0, 0] and ids[2, 1] == a and ids[2, 2:].tolist() == [0, 0]
    assert encoder.encode([""]).tolist() == [[0]]
