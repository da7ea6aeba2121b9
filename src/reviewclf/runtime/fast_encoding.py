"""A faster producer of the same ids: the pipeline reviewclf writes, run with Python's string methods and one
compiled regex, on the texts where it is proven to give exactly the ids ``tokenizers`` gives.

tokenizer.json stays the one definition of text -> ids. ``FastPath.of`` reads a tokenizer.json and recognises
only the exact normalizer, pre-tokenizer, model and truncation that ``training.vocabulary`` writes; for any
other file it returns None and every text goes to ``tokenizers``. Within a recognised file it takes only the
texts it is exact on (``FastPath.applies``): pure ASCII, where the Unicode classes of tokenizers' regex engines
reduce to the explicit ASCII classes below, and holding no added token's content (a tokenizer.json written
before added tokens were dropped matches ``[PAD]`` and ``[UNK]`` in the raw text). ``TextEncoder`` sends every
other text to ``tokenizers``. tests/runtime/test_fast_encoding.py checks the two against each other on
generated text and on every corpus in ../shared/data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

# The pipeline reviewclf writes into tokenizer.json (``training.vocabulary.new_tokenizer``), defined here so
# the fast path recognises exactly what training writes.
# HTML line breaks (IMDB's "<br /><br />", also "<BR>", "<Br/>") become spaces before anything else sees the
# text. Spelled with character classes rather than an inline (?i) flag, so every tokenizers regex engine agrees.
HTML_BREAK = r"<\s*[bB][rR]\s*/?\s*>"
# Apostrophes are deleted, so a contraction stays one word ("didn't" -> "didnt", the same token as the common
# misspelling) for the pre-tokenizer, which splits on everything that is not a word character.
APOSTROPHES = ("'", "\u2019")
WHITESPACE_PRE_TOKENIZER = {"type": "Whitespace"}

# The ASCII part of Unicode White_Space, which is what \s means to both of tokenizers' regex engines. Python's
# \s also takes \x1c-\x1f, which tokenizers treats as punctuation, so the classes are spelled out.
ASCII_SPACE = "\t\n\x0b\x0c\r "
_SPACE_CLASS = r"[\t\n\x0b\x0c\r ]"
_BREAK = re.compile(HTML_BREAK.replace(r"\s", _SPACE_CLASS))
# ``Whitespace`` keeps the matches of \w+|[^\w\s]+; on lowercased ASCII, \w is [a-z0-9_].
_WORDS = re.compile(r"[a-z0-9_]+|[^a-z0-9_\t\n\x0b\x0c\r ]+")
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


class _Vocabulary(dict):
    """Word -> id, with the unknown word's id for every missing word (so a lookup is one C call)."""

    __slots__ = ("unk_id",)

    def __init__(self, vocab: dict[str, int], unk_id: int):
        super().__init__(vocab)
        self.unk_id = unk_id

    def __missing__(self, word: str) -> int:
        return self.unk_id


class FastPath:
    """The recognised pipeline in Python, for the texts where ``applies`` holds."""

    def __init__(self, vocab: dict[str, int], unk_token: str, max_length: int | None, guards: Sequence[str]):
        self._lookup = _Vocabulary(vocab, vocab[unk_token]).__getitem__
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
        """Whether this text's ids are the fast path's to make (pure ASCII, no added token spelled in it)."""
        return text.isascii() and not any(guard in text for guard in self.guards)

    def encode_where_exact(self, texts: Sequence[str]) -> tuple[list[list[int]], list[int]]:
        """Ids of the texts the fast path applies to, and the positions of the others, whose rows are left
        empty for the caller to fill. One loop with its names bound locally: it runs once per text."""
        rows: list[list[int]] = []
        others: list[int] = []
        lookup, limit, guards = self._lookup, self.max_length, self.guards
        split, unbreak = _WORDS.findall, _BREAK.sub
        for position, text in enumerate(texts):
            if not text.isascii() or (guards and any(guard in text for guard in guards)):
                rows.append([])
                others.append(position)
                continue
            if "<" in text:
                text = unbreak(" ", text)
            words = split(text.lower().replace("'", ""))
            if limit is not None and len(words) > limit:
                del words[limit:]
            rows.append(list(map(lookup, words)))
        return rows, others
