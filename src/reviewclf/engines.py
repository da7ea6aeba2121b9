"""What the Spark and Ray Data adapters share: one Predictor per worker process, the result columns, and
errors that reach the driver as the runtime's one line.

The engines provide the parallelism (one Python worker per core or per actor), so each worker runs ONNX
Runtime on one intra-op thread and the tokenizer without its own thread pool unless asked otherwise:
several workers that each used every core would fight over them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ReviewclfError
from .runtime.batching import DEFAULT_BATCH_SIZE
from .runtime.predictor import Predictor

WORKER_THREADS = 1
_LOADED: dict[tuple[str, bool, int | None], Predictor] = {}


@dataclass(frozen=True)
class ScoringSpec:
    """How a worker scores: the bundle it loads and the decision options (small and picklable: this, not a
    Predictor, is what an engine sends to its workers)."""

    bundle: str
    int8: bool = False
    threads: int | None = WORKER_THREADS
    batch_size: int = DEFAULT_BATCH_SIZE
    threshold: float | None = None
    all_probs: bool = False


def result_names(labels: Sequence[str], all_probs: bool) -> list[str]:
    """The columns a prediction adds: ``label``, ``probability``, and ``p_<label>`` per label with ``all_probs``."""
    return ["label", "probability"] + ([f"p_{label}" for label in labels] if all_probs else [])


def worker_predictor(spec: ScoringSpec) -> Predictor:
    """The worker process's Predictor for ``spec``: loaded (and checksummed) on first use, then reused by every
    batch and task this process runs."""
    key = (spec.bundle, spec.int8, spec.threads)
    if key not in _LOADED:
        if spec.threads == 1:
            # tokenizers' batch encoder would otherwise start a pool as large as the machine in every worker
            os.environ["TOKENIZERS_PARALLELISM"] = "false"
        with plain_errors():
            predictor = Predictor.load(spec.bundle, int8=spec.int8, threads=spec.threads)
            predictor.decision.check(spec.threshold)
        _LOADED[key] = predictor
    return _LOADED[key]


@contextmanager
def plain_errors() -> Iterator[None]:
    """A ``ReviewclfError`` leaves as a plain one with the same line: subclasses (``OptionError``) take other
    constructor arguments and would fail to unpickle on the driver, hiding the message."""
    try:
        yield
    except ReviewclfError as exc:
        if type(exc) is ReviewclfError:
            raise
        raise ReviewclfError(str(exc)) from None


def texts_of(values: Any) -> tuple[list[str], np.ndarray]:
    """A pandas Series of texts as a list (missing values as empty texts) and the mask of the missing ones;
    a value that is not a string is one error."""
    missing = np.asarray(values.isna(), dtype=bool)
    texts = values.tolist()
    if missing.any():
        texts = ["" if gone else text for text, gone in zip(texts, missing)]
    bad = next((text for text in texts if not isinstance(text, str)), None)
    if bad is not None:
        raise ReviewclfError(f"the text column holds {type(bad).__name__} values, not strings (cast it to a string)")
    return texts, missing


def score_groups(predictor: Predictor, spec: ScoringSpec, groups: Iterable[tuple[Any, Any]]
                 ) -> Iterator[tuple[Any, dict[str, np.ndarray]]]:
    """Score ``(key, pandas Series of texts)`` groups in order; yield ``(key, result columns)`` per group.

    Rows whose text is missing get a missing label and probability (null in, null out), not an error that
    would fail a whole job.
    """
    masks: list[np.ndarray] = []

    def texts() -> Iterator[tuple[Any, list[str]]]:
        for key, values in groups:
            group, missing = texts_of(values)
            masks.append(missing)
            yield key, group

    labels = np.asarray(predictor.labels, dtype=object)
    with plain_errors():
        for key, scores in predictor.stream(texts(), spec.batch_size, spec.threshold, k=0):
            missing = masks.pop(0)
            probs, chosen = scores.probabilities, scores.chosen
            columns = {"label": labels[chosen], "probability": probs[np.arange(len(chosen)), chosen].copy()}
            if spec.all_probs:
                columns.update({f"p_{label}": probs[:, j].copy() for j, label in enumerate(predictor.labels)})
            if missing.any():
                columns["label"][missing] = None
                for name in columns.keys() - {"label"}:
                    columns[name][missing] = np.nan
            yield key, columns
