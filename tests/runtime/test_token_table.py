"""The vectorized vocabulary lookup: every word found, every near miss unknown, collisions only cost probes."""

from __future__ import annotations

import numpy as np
import pytest

from reviewclf.runtime.token_table import MAX_TOKEN_BYTES, TokenTable, word_view

UNK = 1


def look_up(table: TokenTable, tokens: list[bytes]) -> list[int]:
    """Tokens laid out one after another in one buffer, as the fast path lays out a window."""
    data = np.frombuffer(b"".join(tokens), dtype=np.uint8)
    lengths = np.array([len(t) for t in tokens], dtype=np.int64)
    return table.lookup(word_view(data), np.cumsum(lengths) - lengths, lengths).tolist()


def test_every_word_is_found_and_every_near_miss_is_unknown() -> None:
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, MAX_TOKEN_BYTES + 1, 3000)
    words = {bytes(rng.integers(97, 123, size=n).astype(np.uint8)).decode() for n in sizes}
    vocab = {"[PAD]": 0, "[UNK]": UNK, **{w: i + 2 for i, w in enumerate(sorted(words))}}
    table = TokenTable(vocab, UNK)
    tokens = [w.encode() for w in vocab]
    assert look_up(table, tokens) == list(vocab.values())
    misses = []
    for word in list(words)[:500]:
        raw = word.encode()
        misses += [raw + b"a", raw[:-1] or b"#", raw[:-1] + bytes([raw[-1] ^ 1]), raw + b"\x00", b"\x00" + raw]
    misses = [m for m in misses if m.decode("latin-1") not in vocab and len(m) <= MAX_TOKEN_BYTES]
    assert look_up(table, misses) == [UNK] * len(misses)


def test_a_word_that_differs_only_past_its_first_eight_bytes_is_told_apart() -> None:
    vocab = {"[PAD]": 0, "[UNK]": UNK, "abcdefgh-one": 2, "abcdefgh-two": 3, "abcdefgh": 4,
             "x" * MAX_TOKEN_BYTES: 5}
    table = TokenTable(vocab, UNK)
    tokens = [b"abcdefgh-two", b"abcdefgh-one", b"abcdefgh", b"abcdefgh-thr", b"x" * MAX_TOKEN_BYTES,
              b"x" * (MAX_TOKEN_BYTES - 1) + b"y"]
    assert look_up(table, tokens) == [3, 2, 4, UNK, 5, UNK]


def test_words_beyond_latin1_or_too_long_are_left_out_of_the_table() -> None:
    table = TokenTable({"[PAD]": 0, "[UNK]": UNK, "σ": 2, "y" * (MAX_TOKEN_BYTES + 1): 3, "ok": 4}, UNK)
    assert sorted(table.ids.tolist()) == [0, 1, 4]


@pytest.mark.parametrize("size", [40, 5000])
def test_every_word_gets_a_slot_and_is_found_past_collisions(size: int) -> None:
    """Words whose hashes want the same slot are placed further on and found by probing."""
    vocab = {"[PAD]": 0, "[UNK]": UNK, **{f"w{i}": i + 2 for i in range(size)}}
    table = TokenTable(vocab, UNK)
    assert (table.slots >= 0).sum() == len(vocab)
    wanted = (table.hashes >> table.shift).astype(np.int64)
    assert len(np.unique(wanted)) < len(wanted)  # some words did collide, so probing was exercised
    assert look_up(table, [w.encode() for w in vocab]) == list(vocab.values())
