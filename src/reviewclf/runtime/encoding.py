"""Text -> token ids, the single code path shared by training and serving.

Training encodes its data through ``TextEncoder`` and the runtime encodes requests through it too, so the
ids a model was trained on and the ids it is served are made by one piece of code from one tokenizer.json.
All normalization (lowercasing, ``<br />`` removal, punctuation split, truncation) lives inside that file.

The ids are the contract, their producer is a detail: ``tokenizers`` runs the file, except that texts the
fast path is proven exact on (``fast_encoding``: characters up to U+00FF, for the pipeline reviewclf writes) are
encoded in Python at a fraction of the cost. Mixed batches are split between the two and come back in input order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from ..errors import ReviewclfError
from .fast_encoding import FastPath
from .ragged import PAD_ID, Ragged

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"


class TextEncoder:
    """Wraps a WordLevel ``tokenizers.Tokenizer`` and returns padded int64 id matrices.

    ``fast_path=False`` sends every text to ``tokenizers`` (for comparing the two producers). ``spec`` is the
    parsed tokenizer.json when the caller has it: serializing a large vocabulary again costs start-up time.
    """

    def __init__(self, tokenizer: Tokenizer, *, fast_path: bool = True, spec: dict | None = None):
        if tokenizer.token_to_id(PAD_TOKEN) != PAD_ID:
            raise ReviewclfError(f"tokenizer must map {PAD_TOKEN} to id {PAD_ID}")
        if tokenizer.token_to_id(UNK_TOKEN) is None:
            raise ReviewclfError(f"tokenizer has no {UNK_TOKEN} token")
        self.tokenizer = tokenizer
        self.vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
        truncation = tokenizer.truncation
        self.max_length: int | None = truncation["max_length"] if truncation else None
        self.fast_path: FastPath | None = None
        if fast_path:
            self.fast_path = FastPath.of(spec if spec is not None else json.loads(tokenizer.to_str()))

    @classmethod
    def from_str(cls, json_text: str, *, fast_path: bool = True) -> TextEncoder:
        try:
            tokenizer = Tokenizer.from_str(json_text)
        except Exception as exc:  # tokenizers raises a bare Exception on malformed JSON
            raise ReviewclfError(f"invalid tokenizer.json: {str(exc).splitlines()[0]}") from None
        # The file as tokenizers read it: both parsers keep the last of duplicate keys.
        return cls(tokenizer, fast_path=fast_path, spec=json.loads(json_text) if fast_path else None)

    @classmethod
    def from_file(cls, path: str | Path, *, fast_path: bool = True) -> TextEncoder:
        return cls.from_str(Path(path).read_text(encoding="utf-8"), fast_path=fast_path)

    def to_str(self) -> str:
        return self.tokenizer.to_str()

    def tokens(self, text: str) -> list[str]:
        """The tokens a text is split into (for people reading what the model sees)."""
        return self.tokenizer.encode(text, add_special_tokens=False).tokens

    def encode_flat(self, texts: Sequence[str]) -> Ragged:
        """Encode texts as unpadded ids (truncated to the tokenizer's max length), in input order."""
        texts = texts if isinstance(texts, (list, tuple)) else list(texts)
        if self.fast_path is None:
            return Ragged.from_rows(self._encode_with_tokenizers(texts))
        ragged, others = self.fast_path.encode_where_exact(texts)
        return ragged.filled(others, self._encode_with_tokenizers([texts[i] for i in others]) if others else [])

    def encode_ragged(self, texts: Sequence[str]) -> list[list[int]]:
        """``encode_flat`` as one id list per text."""
        return self.encode_flat(texts).rows()

    def _encode_with_tokenizers(self, texts: Sequence[str]) -> list[list[int]]:
        encodings = self.tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
        return [enc.ids for enc in encodings]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts as int64 ids ``[len(texts), longest]``, right-padded with 0; at least one column."""
        return self.encode_flat(texts).padded()
