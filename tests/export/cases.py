"""What the export test modules share: the exported model kinds, and how their outputs are compared."""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reviewclf.export.equivalence import batched
from reviewclf.runtime.predictor import Predictor

Runner = Callable[[np.ndarray], np.ndarray]
KINDS = ("perceptron", "mlp", "ngram", "three-label")
STARS_TO_3 = {"1": "negative", "2": "negative", "3": "neutral", "4": "positive", "5": "positive"}


@dataclass
class Case:
    kind: str
    run_dir: Path
    bundle: Path  # a directory bundle
    program_bundle: Path  # a bundle with model.pt2 (the directory itself, or the perceptron's archive)
    eager: Runner
    torchscript: Runner
    predictor: Predictor

    @property
    def max_length(self) -> int | None:
        return self.predictor.max_length


def imdb_reviews(data_dir: Path, n: int) -> list[str]:
    """The first ``n`` IMDB reviews with HTML line breaks, streamed from the tarball (no full read)."""
    found: list[str] = []
    with tarfile.open(data_dir / "imdb" / "aclImdb.tar.gz") as archive:
        for member in archive:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 4 and parts[2] in ("pos", "neg"):
                text = archive.extractfile(member).read().decode("utf-8")  # type: ignore[union-attr]
                if "<br />" in text:
                    found.append(text)
                    if len(found) == n:
                        break
    return found


def alone(texts: list[str], case: Case) -> np.ndarray:
    """Eager probabilities of each text computed on its own (batch of one, no padding): the reference."""
    return batched(texts, 1, case.predictor.encoder, case.eager)


def backends(case: Case) -> dict[str, Runner]:
    return {"eager": case.eager, "torchscript": case.torchscript, "onnxruntime": case.predictor.proba_from_ids}


def max_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.abs(a - b).max(initial=0.0))


def leftovers(parent: Path, keep: tuple[str, ...] = ()) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name not in keep)
