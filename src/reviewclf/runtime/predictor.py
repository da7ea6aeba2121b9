"""Batch predictions from a bundle with ONNX Runtime: the object app developers embed.

One ``Predictor`` holds one ONNX Runtime session. ``InferenceSession.run`` and the Rust tokenizer are safe to
call from several threads at once, so one Predictor may serve concurrent callers; nothing in it mutates
after ``load``.

A stream of texts is scored by two background threads: one tokenizes and pads window N+1 while the other
runs ONNX Runtime on window N, and the caller's thread reads the next window and writes the results before.
ONNX Runtime releases the GIL (so does the Rust tokenizer, for the texts the pure-Python fast path does not
take), so tokenizing and scoring overlap on two cores instead of taking turns. At most two windows are in
flight, so memory stays flat.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import onnxruntime as ort

from ..errors import OptionError, ReviewclfError
from .batching import DEFAULT_BATCH_SIZE, SORT_WINDOW_BATCHES, text_windows, token_budget_batches
from .bundle import INPUT_NAME, ONNX_INT8_MODEL, ONNX_MODEL, TOKENIZER, Bundle, load_bundle
from .encoding import TextEncoder


@dataclass(frozen=True)
class Prediction:
    """The decision for one text, the whole distribution, and the ``k`` most probable labels (as fastText)."""

    label: str
    probability: float
    probabilities: dict[str, float]
    top_k: list[tuple[str, float]]


class Decision:
    """The bundle's decision rule: a threshold on the positive label (binary) or the arg-max (multi-class)."""

    def __init__(self, labels: Sequence[str], rule: dict):
        self.labels = list(labels)
        self.kind = rule["type"]
        self.threshold = float(rule.get("threshold", 0.5))

    def check(self, threshold: float | None) -> None:
        """Refuse a threshold the rule cannot use (a multi-class model), before any work is done."""
        if threshold is not None and self.kind != "threshold":
            raise OptionError("threshold", f"applies to binary models only; this model has {len(self.labels)} labels")

    def choose(self, probs: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """Index of the chosen label for each row of ``probs``."""
        self.check(threshold)
        if self.kind == "threshold":
            cut = self.threshold if threshold is None else threshold
            return (probs[:, 1] >= cut).astype(np.int64)
        return probs.argmax(axis=1)


def session_options(threads: int | None) -> ort.SessionOptions:
    """ORT options: intra-op threads = ``threads`` or every core; no inter-op pool (the graphs are chains).

    Idle ORT threads sleep instead of spinning: the tokenizer runs beside the session, and spinning threads
    would take its cores.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads if threads else (os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def onnx_runner(model: bytes | str, threads: int | None, what: str) -> IdsRunner:
    """An ONNX model (bytes, or a path) in an ONNX Runtime session, as an ids -> probabilities function;
    ``what`` names it in the error when ONNX Runtime refuses it. Callers pass a checksummed model."""
    try:
        session = ort.InferenceSession(model, sess_options=session_options(threads),
                                       providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ReviewclfError(f"{what}: ONNX Runtime cannot load it: {exc}") from None
    return lambda ids: session.run(None, {INPUT_NAME: ids})[0]


def bundle_encoder(bundle: Bundle) -> TextEncoder:
    """The bundle's tokenizer.json as the ``TextEncoder`` training used."""
    return TextEncoder.from_str(bundle.read(TOKENIZER).decode("utf-8"))


@dataclass
class _EncodedWindow:
    """A window tokenized and cut into padded batches: ``ids[k]`` holds the texts at ``positions[k]`` of the
    window."""

    size: int
    positions: list[np.ndarray]
    ids: list[np.ndarray]


@dataclass(frozen=True)
class Scores:
    """A group's results, row-aligned: probabilities ``[rows, labels]``, the chosen label index per row and
    the ``k`` most probable label indices per row, best first."""

    probabilities: np.ndarray
    chosen: np.ndarray
    ranked: np.ndarray


Key = TypeVar("Key")
IdsRunner = Callable[[np.ndarray], np.ndarray]  # int64 ids [batch, sequence] -> float32 probabilities


class Predictor:
    """Label and probabilities for raw texts, from a bundle, without torch.

    The model is any ``IdsRunner``: ``load`` gives it an ONNX Runtime session; the CLI's TorchScript backend
    gives it the bundle's TorchScript module, and tokenization, batching and the id checks stay this class's.
    """

    def __init__(self, bundle: Bundle, run: IdsRunner, encoder: TextEncoder | None = None):
        self.bundle = bundle
        self._run = run
        self.encoder = encoder or bundle_encoder(bundle)
        self.labels: list[str] = bundle.labels
        self.decision = Decision(self.labels, bundle.manifest["decision"])
        self.vocab_size = int(bundle.manifest["input"]["vocab_size"])
        if self.encoder.vocab_size != self.vocab_size:
            raise ReviewclfError(f"{bundle.path}: tokenizer vocabulary does not match the model's input spec")
        self._check_model()

    def _check_model(self) -> None:
        """Run the model once on the largest id: a model whose table is smaller than the tokenizer's vocabulary,
        or whose outputs do not match the labels, is refused at load instead of failing mid-file."""
        try:
            out = np.asarray(self._run(np.array([[self.vocab_size - 1, 0]], dtype=np.int64)))
        except Exception as exc:
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            raise ReviewclfError(f"{self.bundle.path}: the model cannot take the tokenizer's ids ({detail})") from None
        if out.shape != (1, len(self.labels)) or not np.isfinite(out).all():
            raise ReviewclfError(f"{self.bundle.path}: the model gives outputs of shape {out.shape} for one text, "
                                 f"not (1, {len(self.labels)}) for the manifest's labels")

    @classmethod
    def load(cls, path: str | Path, *, int8: bool = False, threads: int | None = None) -> Predictor:
        """Load a bundle directory or archive; ``int8`` picks the quantized model; ``threads`` caps ORT."""
        bundle = load_bundle(path, verify_all=False)
        name = ONNX_INT8_MODEL if int8 else ONNX_MODEL
        if name not in bundle.names:
            raise ReviewclfError(f"{bundle.path}: bundle has no {name} (export it with --quantize)")
        def checked_runner() -> IdsRunner:  # checksummed here: a damaged file is refused before ORT sees it
            return onnx_runner(bundle.read_or_path(name), threads, f"{bundle.path}: {name}")

        # hashing and ONNX Runtime's load release the GIL: the session is built on a second core while this
        # thread parses the tokenizer, so start-up takes the longer of the two, not their sum
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reviewclf-load") as loading:
            building = loading.submit(checked_runner)
            encoder = bundle_encoder(bundle)
            run = building.result()
        return cls(bundle, run, encoder)

    @property
    def max_length(self) -> int | None:
        return self.encoder.max_length

    def proba_from_ids(self, ids: np.ndarray) -> np.ndarray:
        """Probabilities for an id matrix; refuses ids outside the vocabulary (ORT would accept them)."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ReviewclfError(f"input ids must be a [batch, sequence] matrix, got shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ReviewclfError(f"token ids must lie in [0, {self.vocab_size}); got {ids.min()}..{ids.max()}")
        return np.asarray(self._run(ids), dtype=np.float32)

    def _iter_proba(self, groups: Iterable[Sequence[str]], batch_size: int = DEFAULT_BATCH_SIZE
                    ) -> Iterator[np.ndarray]:
        """Probabilities of a stream of groups of texts, one array per window of texts, in input order (flat
        memory)."""
        if batch_size < 1:
            raise OptionError("batch_size", f"must be at least 1, not {batch_size}")
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reviewclf-tokenize") as tokenizing, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="reviewclf-score") as scoring:
            in_flight: deque[Future[np.ndarray]] = deque()
            for window in text_windows(groups, batch_size * SORT_WINDOW_BATCHES):
                encoded = tokenizing.submit(self._encode_window, window, batch_size)
                in_flight.append(scoring.submit(self._score_window, encoded))
                if len(in_flight) == 2:
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()

    def _encode_window(self, texts: list[str], batch_size: int) -> _EncodedWindow:
        """Tokenize a window, sort it by length and pad each batch (everything but the model)."""
        ragged = self.encoder.encode_flat(texts)
        order = np.argsort(ragged.lengths, kind="stable")
        batches = [order[chunk] for chunk in token_budget_batches(ragged.lengths[order], batch_size)]
        return _EncodedWindow(len(ragged), batches, [ragged.padded(index) for index in batches])

    def _score_window(self, encoded: Future[_EncodedWindow]) -> np.ndarray:
        window = encoded.result()
        out = np.empty((window.size, len(self.labels)), dtype=np.float32)
        for positions, ids in zip(window.positions, window.ids):
            out[positions] = self.proba_from_ids(ids)
        return out

    def check_k(self, k: int) -> None:
        """Refuse a ``k`` the model cannot fill, before any work is done."""
        if not 0 <= k <= len(self.labels):
            raise OptionError("k", f"must be between 0 and {len(self.labels)} (the model's labels), not {k}")

    def stream(
        self, groups: Iterable[tuple[Key, Sequence[str]]], batch_size: int = DEFAULT_BATCH_SIZE,
        threshold: float | None = None, k: int = 1,
    ) -> Iterator[tuple[Key, Scores]]:
        """Score a stream of ``(key, texts)`` groups; yield ``(key, Scores)`` per group, in order, aligned
        with its texts (the key carries whatever the caller must keep with its rows, e.g. other columns).

        A group is yielded as soon as its last text is scored; memory holds at most a few windows and one group.
        """
        self.check_k(k)
        self.decision.check(threshold)
        sizes: deque[tuple[Key, int]] = deque()

        def texts() -> Iterator[Sequence[str]]:
            for key, group in groups:
                group = group if isinstance(group, (list, tuple)) else list(group)
                sizes.append((key, len(group)))
                yield group

        ready: list[np.ndarray] = []
        have = 0
        windows = self._iter_proba(texts(), batch_size)
        try:
            for probs in itertools.chain(windows, [np.zeros((0, len(self.labels)), dtype=np.float32)]):
                ready.append(probs)
                have += len(probs)
                while sizes and sizes[0][1] <= have:
                    key, size = sizes.popleft()
                    rows = np.concatenate(ready) if len(ready) > 1 else ready[0]
                    ready, have = [rows[size:]], have - size
                    yield key, self._scores(rows[:size], threshold, k)
        finally:
            windows.close()  # a caller that stops early stops the scoring threads now

    def _scores(self, probs: np.ndarray, threshold: float | None, k: int) -> Scores:
        ranked = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        return Scores(probs, self.decision.choose(probs, threshold), ranked)

    def score(
        self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE, threshold: float | None = None,
        k: int = 1,
    ) -> Scores:
        """``stream`` for one list of texts."""
        return next(self.stream([(None, texts)], batch_size, threshold, k))[1]

    def predict_proba(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """``[len(texts), len(labels)]`` float32 probabilities, columns in ``self.labels`` order."""
        return self.score(texts, batch_size, k=0).probabilities

    def predict(
        self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE, threshold: float | None = None,
        k: int = 1,
    ) -> list[Prediction]:
        """Per text: the chosen label (the bundle's rule, or ``threshold``), its probability, the whole
        distribution and the ``k`` most probable labels."""
        scores = self.score(texts, batch_size, threshold, k)
        return [
            Prediction(
                label=self.labels[choice],
                probability=float(row[choice]),
                probabilities={label: float(p) for label, p in zip(self.labels, row)},
                top_k=[(self.labels[j], float(row[j])) for j in order],
            )
            for row, choice, order in zip(scores.probabilities, scores.chosen, scores.ranked)
        ]
