"""The fast path gives exactly the ids ``tokenizers`` gives from the same tokenizer.json: on every character it
takes (U+0000-U+00FF and U+2019) alone, in context and in pairs, on generated text, and on a sample of every
corpus in ../shared/data (the whole of every corpus: ``python benchmarks/tokenize_cost.py BUNDLE --corpora``)."""

from __future__ import annotations

import functools
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from reviewclf.io.labeled import read_labeled, read_many
from reviewclf.runtime.encoding import TextEncoder
from reviewclf.runtime.fast_encoding import FastPath, unrecognised
from reviewclf.runtime.token_table import MAX_TOKEN_BYTES
from reviewclf.training.vocabulary import fit_encoder
from tests.support import DATA

OLD_TOKENIZER = Path(__file__).parent / "data" / "tokenizer-added-special-tokens.json"
TAKEN = [chr(i) for i in range(256)] + ["\u2019"]  # every character the fast path takes
TAKEN_SET = set(TAKEN)
# Pieces that steer generated text into the pipeline's corners: HTML breaks spelled every way (and nearly),
# apostrophes, the characters Python and Rust class differently (\x1c-\x1f), special tokens spelled out.
PIECES = ["<br />", "<BR>", "<br/>", "< Br\t/ >", "<br\n\n>", "<b r>", "<br//>", "<\x1cbr>", "<br\x0b/\x0c>",
          "<<br>>", "<br", "br>", "'", "''", "don't", "DIDN'T", "_", "__init__", "2nd", "1,000", "!!!", ":-)",
          "[PAD]", "[UNK]", "[pad]", "x[PAD]y", "\x00", "\x1c", "\x1f", "\x7f", "\r\n", "\u2019", "caf\u00e9",
          "\u00c9T\u00c9", "\u03a3", "\u0085", "\u00a0", "\u200d", "\ufeff"]
TEXTS = st.lists(st.one_of(st.sampled_from(TAKEN), st.sampled_from(PIECES),
                           st.text(alphabet=st.characters(max_codepoint=127), max_size=12),
                           st.text(alphabet=st.characters(max_codepoint=255), max_size=6)),
                 max_size=40).map("".join)


def reference(encoder: TextEncoder, texts: Sequence[str]) -> list[list[int]]:
    """What the tokenizer.json gives through ``tokenizers`` alone."""
    return [encoding.ids for encoding in encoder.tokenizer.encode_batch(list(texts), add_special_tokens=False)]


def fast_only(encoder: TextEncoder, texts: Sequence[str]) -> list[list[int]]:
    """The fast path's own rows; every text must be one it takes."""
    assert encoder.fast_path is not None
    rows, others = encoder.fast_path.encode_where_exact(texts)
    assert others == []
    return rows.rows()


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    """A vocabulary with words, punctuation runs and break debris, and a short max_length (truncation)."""
    uci = read_labeled(DATA / "uci-sentences" / "yelp_labelled.txt").texts
    return fit_encoder(uci + PIECES * 2 + TAKEN * 2, min_freq=2, max_length=24)


@pytest.fixture(scope="module")
def old_encoder() -> TextEncoder:
    """A tokenizer.json written before [PAD]/[UNK] stopped being added tokens: they are matched in raw text."""
    return TextEncoder.from_file(OLD_TOKENIZER)


def test_the_pipeline_training_writes_is_recognised(encoder: TextEncoder, old_encoder: TextEncoder) -> None:
    assert encoder.fast_path is not None and encoder.fast_path.guards == ()
    assert old_encoder.fast_path is not None and old_encoder.fast_path.guards == ("[PAD]", "[UNK]")
    assert encoder.fast_path.max_length == encoder.max_length == 24


@pytest.mark.parametrize(("change", "part"), [
    (lambda s: s["normalizer"]["normalizers"].pop(1), "normalizer"),
    (lambda s: s["normalizer"]["normalizers"].reverse(), "normalizer"),
    (lambda s: s["normalizer"]["normalizers"].append({"type": "NFKC"}), "normalizer"),
    (lambda s: s.update(pre_tokenizer={"type": "WhitespaceSplit"}), "pre_tokenizer"),
    (lambda s: s["truncation"].update(direction="Left"), "truncation"),
    (lambda s: s.update(padding={"strategy": "BatchLongest", "direction": "Right", "pad_to_multiple_of": None,
                                 "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"}), "post_processor or padding"),
    (lambda s: s["added_tokens"].append({"id": 1, "content": "[UNK]", "single_word": False, "lstrip": False,
                                         "rstrip": False, "normalized": True, "special": True}), "added_tokens"),
])
def test_any_other_tokenizer_json_goes_to_tokenizers_whole(encoder: TextEncoder, change, part: str) -> None:
    spec = json.loads(encoder.to_str())
    change(spec)
    assert unrecognised(spec) == part and FastPath.of(spec) is None
    changed = TextEncoder.from_str(json.dumps(spec))
    assert changed.fast_path is None
    texts = ["Great food!<br />Didn't LIKE it", "x[UNK]y"]
    assert changed.encode_ragged(texts) == reference(changed, texts)


def test_every_character_it_takes_alone_in_context_and_in_pairs(encoder: TextEncoder) -> None:
    """Which characters are word, space or punctuation (and which a break's \\s takes) to Rust, and how they
    lowercase: every step is character by character on these, so this covers every text the path takes."""
    singles = [text for c in TAKEN for text in (
        c, f"a{c}b", f"A{c}{c}'B", f"<{c}br{c}/{c}>", f"x<br{c}>y", f"'{c}\u2019", f"_{c}9", f"\xe9{c}\xc9", c * 3)]
    pairs = [a + b for a in TAKEN for b in TAKEN]
    for texts in (singles, pairs):
        assert fast_only(encoder, texts) == reference(encoder, texts)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.lists(TEXTS.filter(lambda text: all(c in TAKEN_SET for c in text)), min_size=1, max_size=8))
def test_fast_path_equals_tokenizers_on_generated_text_it_takes(encoder: TextEncoder, texts: list[str]) -> None:
    assert fast_only(encoder, texts) == reference(encoder, texts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEXTS, min_size=1, max_size=8))
def test_mixed_batches_come_back_in_order_and_equal(encoder: TextEncoder, old_encoder: TextEncoder,
                                                    texts: list[str]) -> None:
    """Mixed batches (characters the path takes or not, special tokens spelled or not) are split between the
    two producers."""
    for each in (encoder, old_encoder):
        assert each.encode_ragged(texts) == reference(each, texts)


@functools.cache
def imdb_reviews(limit: int) -> list[str]:
    """The first ``limit`` reviews of the archive (streamed: the whole archive takes seconds to read)."""
    texts: list[str] = []
    with tarfile.open(DATA / "imdb" / "aclImdb.tar.gz", "r|gz") as archive:
        for member in archive:
            if member.isfile() and member.name.endswith(".txt") and member.name.count("/") == 3:
                texts.append(archive.extractfile(member).read().decode("utf-8"))  # type: ignore[union-attr]
                if len(texts) == limit:
                    break
    return texts


def sample(texts: Sequence[str], limit: int) -> list[str]:
    step = max(1, len(texts) // limit)
    return list(texts[::step][:limit])


CORPORA = {
    "imdb": lambda: imdb_reviews(1500),
    "yelp-10k": lambda: read_labeled(DATA / "yelp-10k" / "yelp.csv.zip", text_column="text").texts,
    "yelp-augpe-dev": lambda: read_labeled(DATA / "yelp-augpe-dev" / "dev.csv", text_column="text",
                                           label_column="label2").texts,
    "yelp-shen-sentences": lambda: read_many(sorted((DATA / "yelp-shen-sentences").glob("sentiment.*"))).texts,
    "rt-polarity": lambda: read_many(sorted((DATA / "rt-polarity").glob("rt-polarity.*")), encoding="latin-1").texts,
    "customer-reviews": lambda: read_many(sorted((DATA / "customer-reviews").glob("custrev.*"))).texts,
    "sst2": lambda: read_labeled(DATA / "sst2" / "train_full.tsv").texts,
    "uci-sentences": lambda: read_many(sorted((DATA / "uci-sentences").glob("*_labelled.txt"))).texts,
}


@pytest.fixture(scope="module")
def corpus_encoder() -> TextEncoder:
    """Real vocabulary (unknown words included), truncating long reviews."""
    train = imdb_reviews(1500)[::3] + read_labeled(DATA / "yelp-10k" / "yelp.csv.zip", text_column="text").texts[:1500]
    return fit_encoder(train, min_freq=2, max_length=200)


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_fast_path_equals_tokenizers_on_a_sample_of_every_corpus(corpus_encoder: TextEncoder, name: str) -> None:
    assert corpus_encoder.fast_path is not None
    texts = sample(CORPORA[name](), 1500)
    rows, others = corpus_encoder.fast_path.encode_where_exact(texts)
    left, all_rows = set(others), rows.rows()
    taken = [i for i in range(len(texts)) if i not in left]
    assert len(taken) > 0.8 * len(texts)  # the path is worth having on every corpus
    assert [all_rows[i] for i in taken] == reference(corpus_encoder, [texts[i] for i in taken])


def test_plain_tokenizers_reads_the_same_file(corpus_encoder: TextEncoder) -> None:
    """The file alone, with no reviewclf code, gives what the encoder gives (the contract is the file)."""
    texts = imdb_reviews(1500)[:200]
    plain = Tokenizer.from_str(corpus_encoder.to_str())
    assert [e.ids for e in plain.encode_batch(texts, add_special_tokens=False)] == corpus_encoder.encode_ragged(texts)


def test_window_corners_equal_tokenizers(encoder: TextEncoder) -> None:
    """The fast path joins a window into one buffer: texts holding its separator, a break split across two
    texts, empty texts and truncation must still give each text its own ids."""
    windows = [["good <", "br /> food"], ["a\nb", "", "c\n"], ["x <br", "/> y <b", "r>"], ["", ""],
               [" ".join(["great"] * 40), "food " * 30]]
    for texts in windows:
        assert fast_only(encoder, texts) == reference(encoder, texts)


def test_tokens_longer_than_the_table_keys(encoder: TextEncoder) -> None:
    long = "a" * (MAX_TOKEN_BYTES + 5)
    texts = [f"good {long} food", "!" * 100, "fine"]
    assert fast_only(encoder, texts) == reference(encoder, texts)
    with_long_word = fit_encoder([long, long, "fine", "fine"], min_freq=2, max_length=24)
    assert with_long_word.fast_path is not None and with_long_word.fast_path.table.long_words
    _, others = with_long_word.fast_path.encode_where_exact(texts)
    assert others == [0, 1]  # tokenizers makes their ids
    assert with_long_word.encode_ragged(texts) == reference(with_long_word, texts)
