"""A faster producer of the same ids: the pipeline reviewclf writes, run on a whole window at once with numpy
over Latin-1 bytes, on the texts where it is proven to give exactly the ids ``tokenizers`` gives.

tokenizer.json stays the one definition of text -> ids. ``FastPath.of`` reads a tokenizer.json and recognises
only the exact normalizer, pre-tokenizer, model and truncation that ``training.vocabulary`` writes; for any
other file it returns None and every text goes to ``tokenizers``. Within a recognised file it takes only the
texts it is exact on (``FastPath.applies``):

* every character is at most U+00FF (ASCII and Latin-1), or is the apostrophe U+2019, which is deleted. On
  these characters each step is character by character (the break regex and the pre-tokenizer only ask
  whether a character is space or word; lowercasing maps one character to one, with no context rule), and
  the Unicode classes of tokenizers' regex engines are spelled out below as explicit classes (one class per
  byte, ``_CLASSES``), since Python's ``\\s`` and ``\\w`` differ (U+001C-U+001F are space to Python,
  punctuation to tokenizers; ``²`` is a word character to Python);
* the text holds no added token's content (a tokenizer.json written before added tokens were dropped matches
  ``[PAD]`` and ``[UNK]`` in the raw text).

``TextEncoder`` sends every other text to ``tokenizers``. tests/runtime/test_fast_encoding.py checks the two
against each other on every such character alone and in pairs, on generated text and on samples of every
corpus in ../shared/data (``benchmarks/tokenize_cost.py --corpora``: every text of every corpus).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from .ragged import Ragged, starts_of
from .token_table import MAX_TOKEN_BYTES, TokenTable, word_view

# The pipeline reviewclf writes into tokenizer.json (``training.vocabulary.new_tokenizer``), defined here so
# the fast path recognises exactly what training writes.
# HTML line breaks (IMDB's "<br /><br />", also "<BR>", "<Br/>") become spaces before anything else sees the
# text. Spelled with character classes rather than an inline (?i) flag, so every tokenizers regex engine agrees.
HTML_BREAK = r"<\s*[bB][rR]\s*/?\s*>"
# Apostrophes are deleted, so a contraction stays one word ("didn't" -> "didnt", the same token as the common
# misspelling) for the pre-tokenizer, which splits on everything that is not a word character.
APOSTROPHES = ("'", "\u2019")
WHITESPACE_PRE_TOKENIZER = {"type": "Whitespace"}

# Up to U+00FF: \s (Unicode White_Space, for both of tokenizers' regex engines) and \w (the regex crate's
# Alphabetic, Mark, Decimal_Number, Connector_Punctuation, Join_Control: Latin-1 adds letters, no digits).
SPACE = "\t\n\x0b\x0c\r \x85\xa0"
WORD = "A-Za-z0-9_\xaa\xb5\xba\xc0-\xd6\xd8-\xf6\xf8-\xff"
_BREAK = re.compile(HTML_BREAK.replace(r"\s", f"[{SPACE}]"))
# A character the fast path does not take.
_BEYOND = re.compile("[^\x00-\xff\u2019]").search
_TRUNCATION = {"direction": "Right", "strategy": "LongestFirst", "stride": 0}


def reviewclf_normalizer() -> dict[str, Any]:
    """The normalizer reviewclf writes, as tokenizer.json spells it."""
    deletions = [{"type": "Replace", "pattern": {"String": mark}, "content": ""} for mark in APOSTROPHES]
    return {"type": "Sequence", "normalizers": [
        {"type": "Replace", "pattern": {"Regex": HTML_BREAK}, "content": " "}, {"type": "Lowercase"}, *deletions]}


def unrecognised(spec: dict[str, Any]) -> str | None:
    """The part of a tokenizer.json the fast path does not reproduce, or None when it reproduces the file."""
    model = spec.get("model") or {}
    vocab = model.get("vocab")
    truncation = spec.get("truncation")
    if spec.get("normalizer") != reviewclf_normalizer():
        return "normalizer"
    if spec.get("pre_tokenizer") != WHITESPACE_PRE_TOKENIZER:
        return "pre_tokenizer"
    if model.get("type") != "WordLevel" or not isinstance(vocab, dict) or model.get("unk_token") not in vocab:
        return "model"
    if spec.get("post_processor") is not None or spec.get("padding") is not None:
        return "post_processor or padding"
    if truncation is not None and (
        {key: truncation.get(key) for key in _TRUNCATION} != _TRUNCATION
        or type(truncation.get("max_length")) is not int or truncation["max_length"] < 1
    ):
        return "truncation"
    # Added tokens matched in the raw text are kept apart by ``applies``; those matched after normalization
    # would need the normalized text, which the fast path never builds.
    if any(token.get("normalized", True) for token in spec.get("added_tokens") or []):
        return "added_tokens"
    return None


def _byte_tables() -> tuple[np.ndarray, bytes]:
    """Per Latin-1 byte: its class (0 space, 1 word, 2 other) and its lowercase (one byte to one)."""
    classes = np.full(256, 2, dtype=np.int8)
    word = re.compile(f"[{WORD}]")
    for code in range(256):
        classes[code] = 0 if chr(code) in SPACE else 1 if word.match(chr(code)) else 2
    return classes, bytes(ord(chr(code).lower()) for code in range(256))


_CLASSES, _LOWER = _byte_tables()
_SEPARATOR = "\n"  # joins a window's texts: a space character, so no token spans two texts


class FastPath:
    """The recognised pipeline on a whole window at once, for the texts where ``applies`` holds.

    The window's texts are joined into one Latin-1 byte buffer (normalized with ``bytes.translate``), split
    into tokens where the byte class changes, and looked up in a ``TokenTable``: numpy, not a Python loop
    per word, and numpy releases the GIL while ONNX Runtime scores the window before.
    """

    def __init__(self, vocab: dict[str, int], unk_token: str, max_length: int | None, guards: Sequence[str]):
        self.table = TokenTable(vocab, vocab[unk_token])
        self.max_length = max_length
        # Contents of the file's added tokens: tokenizers matches them in the raw text, the fast path does not.
        self.guards = tuple(guards)

    @classmethod
    def of(cls, spec: dict[str, Any]) -> FastPath | None:
        """The fast path for a parsed tokenizer.json, or None when the file is not one it reproduces."""
        if unrecognised(spec) is not None:
            return None
        model, truncation = spec["model"], spec.get("truncation")
        guards = [token["content"] for token in spec.get("added_tokens") or []]
        return cls(model["vocab"], model["unk_token"], truncation["max_length"] if truncation else None, guards)

    def applies(self, text: str) -> bool:
        """Whether this text's ids are the fast path's to make (characters it takes, no added token spelled)."""
        return (text.isascii() or _BEYOND(text) is None) and not any(guard in text for guard in self.guards)

    def encode_where_exact(self, texts: Sequence[str]) -> tuple[Ragged, list[int]]:
        """Ids of the texts the fast path applies to, and the positions of the others, whose rows are left
        empty for the caller to fill."""
        texts = list(texts)
        joined = _SEPARATOR.join(texts)
        if joined.isascii() and not any(guard in joined for guard in self.guards):
            taken, others = texts, []
        else:
            others = [i for i, text in enumerate(texts) if not self.applies(text)]
            skip = set(others)
            taken = [text for i, text in enumerate(texts) if i not in skip]
            joined = _SEPARATOR.join(taken)
        ids, counts, failed = self._encode_joined(joined, taken)
        lengths = np.zeros(len(texts), dtype=np.int64)
        positions = np.delete(np.arange(len(texts)), others)
        lengths[positions] = counts
        if len(failed):  # rows with a token too long for the table's keys: tokenizers makes their ids
            others = sorted([*others, *positions[failed].tolist()])
            lengths[others] = 0
        return Ragged(ids, lengths), others

    def _normalized(self, joined: str, texts: list[str]) -> bytes:
        """The joined texts after the normalizer, as Latin-1 bytes with one separator between texts."""
        if joined.count(_SEPARATOR) != max(len(texts) - 1, 0):  # a text holds the separator: a space like it
            texts = [text.replace(_SEPARATOR, " ") for text in texts]
            joined = _SEPARATOR.join(texts)
        if "<" in joined:
            broken = _BREAK.sub(" ", joined)
            # a break that spans two texts would take a separator with it: then break each text alone
            joined = broken if broken.count(_SEPARATOR) == joined.count(_SEPARATOR) else _SEPARATOR.join(
                _BREAK.sub(" ", text) for text in texts)
        if not joined.isascii():
            joined = joined.replace("\u2019", "")
        return joined.encode("latin-1").translate(_LOWER, b"'")

    def _encode_joined(self, joined: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids of every kept token, tokens per text, texts the table cannot encode) for joined texts."""
        data = np.frombuffer(self._normalized(joined, texts), dtype=np.uint8)
        classes = _CLASSES[data]
        change = np.empty(len(classes), dtype=bool)
        change[:1] = True
        np.not_equal(classes[1:], classes[:-1], out=change[1:])
        bounds = np.flatnonzero(change)
        is_token = classes[bounds] != 0
        starts = bounds[is_token]
        lengths = np.append(bounds[1:], len(data))[is_token] - starts
        rows = np.searchsorted(np.flatnonzero(data == ord(_SEPARATOR)), starts)
        too_long = lengths > MAX_TOKEN_BYTES
        ids = self.table.lookup(word_view(data), starts, np.minimum(lengths, MAX_TOKEN_BYTES))
        failed = np.unique(rows[too_long]) if self.table.long_words and too_long.any() else rows[:0]
        counts = np.bincount(rows, minlength=len(texts))
        if len(failed):
            counts[failed] = 0
            kept = ~np.isin(rows, failed)
            ids, rows = ids[kept], rows[kept]
        if self.max_length is not None and counts.max(initial=0) > self.max_length:
            rank = np.arange(len(rows)) - starts_of(counts)[rows]
            ids, counts = ids[rank < self.max_length], np.minimum(counts, self.max_length)
        return ids, counts, failed
