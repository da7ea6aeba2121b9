"""The token store: every split's ids encoded once into flat files, which training reads its batches from.

nanoGPT's ``prepare.py`` -> ``train.bin``, made general: a split is ``ids.bin`` (int32, the rows one after
another, one trailing padding id), ``lengths.npy`` and ``targets.npy`` (label indices). The resident set of a
run then does not grow with its data: on the CPU a large split's batches are read from its files
(``encoded_set``).

A store is kept in the cache (``cache_root``) under a key that covers everything the ids depend on: the
bytes of the input files, the reader options, the split options and the tokenizer options, so a second
``reviewclf train`` on the same data (another model, autotune's trials) skips reading and tokenizing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..runtime.encoding import TextEncoder
from .config import TrainConfig
from .encoded_set import EncodedSet
from .progress import bar
from .text_spool import TextList, TextSource

STORE_FORMAT = 1
SPLITS = ("train", "val", "test")
CACHE_ENV = "REVIEWCLF_CACHE_DIR"
# what the key hashes from config.json: the options that change which rows are read, how they split, or
# which ids they get; the model and optimisation options do not
KEY_OPTIONS = ("format", "text_column", "label_column", "label_map", "encoding", "on_error", "val_fraction",
               "test_fraction", "seed", "min_freq", "max_vocab", "max_length")


@dataclass
class SplitTexts:
    """The texts of train, val and test as rows of one source, with every row's label name."""

    source: TextSource
    labels: Sequence[str]
    parts: dict[str, np.ndarray]

    @classmethod
    def from_lists(cls, train_texts: Sequence[str], train_labels: Sequence[str], val_texts: Sequence[str],
                   val_labels: Sequence[str], test_texts: Sequence[str], test_labels: Sequence[str]) -> SplitTexts:
        texts = [*train_texts, *val_texts, *test_texts]
        ends = np.cumsum([0, len(train_texts), len(val_texts), len(test_texts)])
        parts = {name: np.arange(ends[i], ends[i + 1]) for i, name in enumerate(SPLITS)}
        return cls(TextList(texts), [*train_labels, *val_labels, *test_labels], parts)

    def texts(self, split: str) -> Iterator[str]:
        for block in self.source.blocks(self.parts[split]):
            yield from block

    def labels_of(self, split: str) -> list[str]:
        return [self.labels[i] for i in self.parts[split].tolist()]


def write_split(folder: Path, encoder: TextEncoder, blocks: Iterator[list[str]], targets: np.ndarray) -> None:
    """Encode the texts of one split block by block into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    lengths = []
    with open(folder / "ids.bin", "wb") as out, bar(f"encoding {folder.name}", len(targets)) as progress:
        for block in blocks:
            rows = encoder.encode_flat(block)
            out.write(rows.ids.astype(np.int32).tobytes())
            lengths.append(rows.lengths.astype(np.int32))
            progress.update(len(block))
        out.write(np.zeros(1, dtype=np.int32).tobytes())
    np.save(folder / "lengths.npy", np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int32))
    np.save(folder / "targets.npy", np.asarray(targets, dtype=np.int64))


def open_split(folder: Path, device: torch.device) -> EncodedSet:
    """A stored split, its ids in memory or read from its file (``EncodedSet.open``)."""
    lengths, targets = np.load(folder / "lengths.npy"), np.load(folder / "targets.npy")
    return EncodedSet.open(folder / "ids.bin", lengths, targets, device)


def cache_root() -> Path:
    """``$REVIEWCLF_CACHE_DIR``, else ``$XDG_CACHE_HOME/reviewclf``, else ``~/.cache/reviewclf``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reviewclf"


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes; of a directory (aclImdb), of its files' relative paths and bytes in order."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else "").encode())
        with open(file, "rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def store_key(config: TrainConfig, pipeline: str, encoder_json: str | None = None) -> str:
    """The cache key of the store ``config`` reads: the inputs' bytes, the options in ``KEY_OPTIONS``, the
    tokenizer pipeline reviewclf writes (``pipeline``) and, when the vocabulary is given (a resumed run's),
    that vocabulary."""
    values = config.to_dict()
    parts: dict[str, Any] = {
        "format": STORE_FORMAT,
        "data": [file_digest(Path(p)) for p in config.data],
        "test_data": [file_digest(Path(p)) for p in config.test_data],
        "options": {name: values[name] for name in KEY_OPTIONS},
        "pipeline": hashlib.sha256(pipeline.encode()).hexdigest(),
        "encoder": hashlib.sha256(encoder_json.encode()).hexdigest() if encoder_json else None,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]
