"""Word -> id for tokens given as byte ranges of one buffer, looked up for a whole window at once with numpy.

A Python dict lookup needs a ``str`` per token, and creating those strings was most of the fast path's cost.
Here a token stays a (start, length) pair in a Latin-1 byte buffer: its bytes are read as little-endian
64-bit words through a one-byte-stride view, hashed, and found by linear probing in an open-addressing
table. Every hit is then compared byte for byte with the vocabulary word (length and all its bytes), so a
hash collision can only cost a probe, never give a wrong id.
"""

from __future__ import annotations

import numpy as np

from .ragged import starts_of

KEY_WORDS = 4  # a token is looked up by up to four 64-bit words: tokens of at most 32 bytes
MAX_TOKEN_BYTES = 8 * KEY_WORDS
_MIX = tuple(np.uint64(m) for m in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                                     0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD))


def word_view(data: np.ndarray) -> np.ndarray:
    """``view[i]`` = bytes ``i .. i+7`` of ``data`` as one little-endian uint64 (zero past the end)."""
    padded = np.zeros(len(data) + MAX_TOKEN_BYTES + 8, dtype=np.uint8)
    padded[: len(data)] = data
    return np.ndarray(shape=(len(padded) - 7,), dtype="<u8", buffer=padded, strides=(1,))


def _word(view: np.ndarray, starts: np.ndarray, remaining: np.ndarray) -> np.ndarray:
    """The 8-byte word at each start, bytes past ``remaining`` zeroed."""
    words = view[starts]
    short = remaining < 8
    if short.any():
        bits = (np.minimum(remaining, 8) * 8).astype(np.uint64)
        words = np.where(short, words & ((np.uint64(1) << (bits & np.uint64(63))) - np.uint64(1)), words)
    return words


def _hash(view: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first word, 64-bit hash of the token's bytes and length) per token."""
    first = _word(view, starts, lengths)
    h = (first * _MIX[0]) ^ (lengths.astype(np.uint64) * _MIX[1])
    longer = np.flatnonzero(lengths > 8)
    for k in range(1, KEY_WORDS):
        longer = longer[lengths[longer] > 8 * k]
        if not len(longer):
            break
        word = _word(view, starts[longer] + 8 * k, lengths[longer] - 8 * k)
        h[longer] = (h[longer] ^ word) * _MIX[k + 1]
    h ^= h >> np.uint64(29)
    h *= _MIX[4]
    h ^= h >> np.uint64(32)
    return first, h


def _latin1_words(words: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """(indices of the words that are Latin-1 and 1..MAX_TOKEN_BYTES long, their bytes end to end, their
    lengths, whether a longer Latin-1 word exists); vectorized, since a vocabulary is built at every
    start-up. Other words can never equal a fast-path token, which is Latin-1."""
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    codes = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32)
    starts = starts_of(lengths)
    nonempty = lengths > 0
    widest = np.zeros(len(words), dtype=np.uint32)
    if nonempty.any():
        widest[nonempty] = np.maximum.reduceat(codes, starts[nonempty])
    latin1 = nonempty & (widest <= 0xFF)
    kept = np.flatnonzero(latin1 & (lengths <= MAX_TOKEN_BYTES))
    chars = np.repeat(starts[kept] - starts_of(lengths[kept]), lengths[kept])
    data = codes[chars + np.arange(len(chars))].astype(np.uint8)
    return kept, data, lengths[kept], bool((latin1 & (lengths > MAX_TOKEN_BYTES)).any())


class TokenTable:
    """The vocabulary's Latin-1 words of at most ``MAX_TOKEN_BYTES`` bytes, for ``lookup``; ``long_words``
    says whether it left out longer Latin-1 words (a token that long may then be known)."""

    def __init__(self, vocab: dict[str, int], unk_id: int):
        words, data, lengths, self.long_words = _latin1_words(list(vocab))
        ids = np.fromiter(vocab.values(), dtype=np.int64, count=len(vocab))[words]
        self.unk_id = unk_id
        self.lengths = lengths
        self.starts = starts_of(lengths)
        self.view = word_view(data)
        self.first, self.hashes = _hash(self.view, self.starts, self.lengths)
        self.ids = ids
        bits = max(int(len(ids) * 4).bit_length(), 4)  # load factor at most 1/4: probes stay short
        self.shift, self.mask = np.uint64(64 - bits), (1 << bits) - 1
        self.slots = self._slots(1 << bits)

    def _slots(self, size: int) -> np.ndarray:
        """Open addressing, filled a round at a time: each free slot takes one of the words that want it."""
        slots = np.full(size, -1, dtype=np.int64)
        wanted = (self.hashes >> self.shift).astype(np.int64)
        pending = np.arange(len(self.ids))
        while len(pending):
            free = pending[slots[wanted[pending]] < 0]
            _, first = np.unique(wanted[free], return_index=True)
            placed = free[first]
            slots[wanted[placed]] = placed
            pending = np.setdiff1d(pending, placed, assume_unique=True)
            wanted[pending] = (wanted[pending] + 1) & self.mask
        return slots

    def lookup(self, view: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The id of each token (bytes ``starts[i]`` onward, ``lengths[i]`` of them, at most
        ``MAX_TOKEN_BYTES``), the unknown id for a token the table does not hold."""
        first, hashes = _hash(view, starts, lengths)
        slot = (hashes >> self.shift).astype(np.int64)
        found = self.slots[slot]
        probing = np.flatnonzero((found >= 0) & (self.hashes[found] != hashes))
        while len(probing):
            slot[probing] = (slot[probing] + 1) & self.mask
            found[probing] = candidate = self.slots[slot[probing]]
            probing = probing[(candidate >= 0) & (self.hashes[candidate] != hashes[probing])]
        hit = (found >= 0) & (self.lengths[found] == lengths) & (self.first[found] == first)
        longer = np.flatnonzero(hit & (lengths > 8))
        for k in range(1, KEY_WORDS):
            longer = longer[lengths[longer] > 8 * k]
            remaining = lengths[longer] - 8 * k
            mine = _word(view, starts[longer] + 8 * k, remaining)
            theirs = _word(self.view, self.starts[found[longer]] + 8 * k, remaining)
            hit[longer[mine != theirs]] = False
        return np.where(hit, self.ids[found], self.unk_id)
