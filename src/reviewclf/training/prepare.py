"""From texts to a trainable form: fit the tokenizer on the training split, encode every split once into a
token store, and open the store for training; from the cache when it already holds that store."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..allocator import give_back_freed_memory
from ..errors import ReviewclfError
from ..io.atomic import replace_path, staging_dir
from ..runtime.encoding import TextEncoder
from .config import TrainConfig
from .encoded_set import EncodedSet
from .loop import import_optimizer_in_background, resolve_device
from .progress import bar
from .token_store import SPLITS, SplitTexts, open_split, write_split
from .vocabulary import fit_encoder

HELDOUT_SAMPLE = 256  # held-out texts kept in the run for the equivalence check at export
TOKENIZER_OPTIONS = ("min_freq", "max_vocab", "max_length")


@dataclass
class Prepared:
    """A tokenizer fitted on the training texts and the three splits it encoded: what every fit on the same
    texts with the same tokenizer options shares (autotune's trials reuse it). ``keep``: what holds the
    store's folder while the splits are in use (a temporary directory), if anything."""

    encoder: TextEncoder
    labels: list[str]
    train: EncodedSet
    val: EncodedSet
    test: EncodedSet
    heldout: list[str]
    rows: dict[str, int]
    keep: Any = None


def checked_labels(train_labels: list[str], val_labels: list[str], test_labels: list[str]) -> list[str]:
    """The sorted training labels; val and test may not hold a label training never saw."""
    labels = sorted(set(train_labels))
    if len(labels) < 2:
        raise ReviewclfError(f"need at least two labels in the training data, found {labels}")
    unseen = sorted((set(val_labels) | set(test_labels)) - set(labels))
    if unseen:
        raise ReviewclfError(f"labels in val/test never seen in training: {', '.join(unseen)}")
    return labels


def build_store(folder: Path, config: TrainConfig, split: SplitTexts, log: Callable[[str], None],
                encoder: TextEncoder | None = None) -> None:
    """Fit the tokenizer on the training texts (or take ``encoder``, a resumed run's, so the ids are the ones
    it was trained on) and write every split's ids, the tokenizer and what the run reports into ``folder``."""
    names = {name: split.labels_of(name) for name in SPLITS}
    labels = checked_labels(names["train"], names["val"], names["test"])
    if encoder is None:
        train_texts = bar("fitting the vocabulary", len(split.parts["train"]), rows=split.texts("train"))
        encoder = fit_encoder(train_texts, config.min_freq, config.max_length, config.max_vocab,
                              length=len(split.parts["train"]))
    index = {label: i for i, label in enumerate(labels)}
    for name in SPLITS:
        targets = np.array([index[n] for n in names[name]], dtype=np.int64)
        write_split(folder / name, encoder, split.source.blocks(split.parts[name]), targets)
    held = split.parts["test"] if len(split.parts["test"]) else split.parts["val"]
    heldout = [text for block in split.source.blocks(held[:HELDOUT_SAMPLE]) for text in block]
    (folder / "tokenizer.json").write_text(encoder.to_str(), encoding="utf-8")
    meta = {"labels": labels, "heldout": heldout, "rows": {name: len(split.parts[name]) for name in SPLITS}}
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    give_back_freed_memory()


def open_store(folder: Path, config: TrainConfig, keep: Any = None) -> Prepared:
    """The store in ``folder``, its splits on the training device."""
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    encoder = TextEncoder.from_file(folder / "tokenizer.json")
    device = resolve_device(config.device)
    splits = [open_split(folder / name, device) for name in SPLITS]
    return Prepared(encoder, meta["labels"], *splits, heldout=meta["heldout"], rows=meta["rows"], keep=keep)


class Preparer:
    """Prepared splits for each setting of the tokenizer options, each made once: opened from the cache when
    it holds them (``key`` gives a config's cache folder; None: no cache), else encoded from ``texts()``
    (called once, when first needed, so a cached run never reads its data). ``key`` may answer None too."""

    def __init__(self, texts: Callable[[], SplitTexts], log: Callable[[str], None],
                 key: Callable[[TrainConfig], Path | None] | None = None, encoder: TextEncoder | None = None):
        self._texts, self._split = texts, None
        self.log, self.key, self.encoder = log, key, encoder
        self.made: dict[tuple, Prepared] = {}

    @classmethod
    def of_lists(cls, train_texts: list[str], train_labels: list[str], val_texts: list[str],
                 val_labels: list[str], test_texts: list[str], test_labels: list[str],
                 log: Callable[[str], None]) -> Preparer:
        split = SplitTexts.from_lists(train_texts, train_labels, val_texts, val_labels, test_texts, test_labels)
        return cls(lambda: split, log)

    def split(self) -> SplitTexts:
        if self._split is None:
            self._split = self._texts()
        return self._split

    def __call__(self, config: TrainConfig) -> Prepared:
        settings = tuple(getattr(config, name) for name in TOKENIZER_OPTIONS)
        if settings not in self.made:
            self.made[settings] = self._make(config)
            prepared = self.made[settings]
            self.log(f"vocabulary: {prepared.encoder.vocab_size} tokens (min freq {config.min_freq}); "
                     f"device: {prepared.train.device}")
        return self.made[settings]

    def _make(self, config: TrainConfig) -> Prepared:
        import_optimizer_in_background()
        folder = self.key(config) if self.key is not None else None
        if folder is None:
            keep = tempfile.TemporaryDirectory(prefix="reviewclf-store-")
            build_store(Path(keep.name), config, self.split(), self.log, self.encoder)
            return open_store(Path(keep.name), config, keep)
        if (folder / "meta.json").is_file():
            self.log(f"token store: the data as encoded before, from the cache ({folder}); --no-cache to encode "
                     "it again")
        else:
            with staging_dir(folder) as work:
                build_store(work, config, self.split(), self.log, self.encoder)
                replace_path(work, folder)
        return open_store(folder, config)
