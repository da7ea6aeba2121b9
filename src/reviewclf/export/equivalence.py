"""The equivalence contract: eager PyTorch, TorchScript and ONNX Runtime agree on every text, whatever
batch it is in. ``verify_predictor`` is the one check: export runs it before it lets a bundle exist, and
``reviewclf verify`` runs it again on the bundle."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ReviewclfError
from ..runtime.encoding import TextEncoder

if TYPE_CHECKING:  # the check runs where torch is absent (``reviewclf verify``): nothing here imports it
    from ..runtime.predictor import Predictor

TOLERANCE = 1e-5
BATCH_SIZES = (1, 2, 7, 512)
STORED = "stored"  # the reference probabilities' name in the report
RUNTIME_PATH = "runtime-predict"  # Predictor.predict_proba's name in the report

Runner = Callable[[np.ndarray], np.ndarray]  # int64 ids [batch, sequence] -> float32 probabilities


def edge_cases(max_length: int | None) -> list[str]:
    """Texts that break naive pipelines: nothing, only spaces, unknown words, one word, too long, emoji,
    other scripts, HTML line breaks, UTF-8 read as Latin-1, control characters."""
    long_text = " ".join(["good", "bad", "food", "service"] * ((max_length or 512) // 2 + 16))
    return [
        "",
        "   \t\n  ",
        "qwzxv blorftastic snarglewump zzzyx",
        "great",
        long_text,
        "😀🍕👍🏽 loved it!!! ❤️",
        "非常好吃，服务也很好。",
        "Отличный ресторан, но дорого.",
        "مطعم رائع والخدمة ممتازة",
        "Terrible food.<br /><br />Never again<BR/>really",
        "CafÃ© was Ã¼ber nice â€” wouldnâ€™t go back",
        "tab\tnewline\nnul\x00 bell\x07 end",
        "<b>bold</b> &amp; &quot;quoted&quot; http://example.com/x?y=1",
    ]


def batched(texts: Sequence[str], batch_size: int, encoder: TextEncoder, run: Runner) -> np.ndarray:
    """Probabilities of ``texts`` computed ``batch_size`` texts at a time, each batch padded on its own."""
    parts = [run(encoder.encode(texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)]
    return np.concatenate(parts)


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """The largest difference between two probability arrays; infinite when their shapes differ (a backend that
    returns the wrong shape must fail the check, not broadcast)."""
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max(initial=0.0))


def verify_predictor(
    predictor: Predictor, texts: Sequence[str], reference: np.ndarray | Sequence[Sequence[float]],
    extra_backends: Mapping[str, Runner] | None = None,
) -> dict[str, Any]:
    """The equivalence check that export and ``reviewclf verify`` both make.

    ``reference``: the probabilities of each text computed alone by eager PyTorch (what verification.json
    stores), named ``stored`` in the report. ONNX Runtime (``predictor``'s model) and every one of
    ``extra_backends`` run at every batch size, and so does the runtime's text path
    (``predictor.predict_proba``, which sorts by length and pads each batch), named ``runtime-predict``.
    """
    reference = np.asarray(reference, dtype=np.float32)
    if reference.shape != (len(texts), len(predictor.labels)):
        raise ReviewclfError(f"{predictor.bundle.path}: reference probabilities have shape {reference.shape}, "
                             f"expected ({len(texts)}, {len(predictor.labels)})")
    backends = {"onnxruntime": predictor.proba_from_ids, **(extra_backends or {})}
    runs = {name: {size: batched(texts, size, predictor.encoder, run) for size in BATCH_SIZES}
            for name, run in backends.items()}
    runs[RUNTIME_PATH] = {size: predictor.predict_proba(texts, batch_size=size) for size in BATCH_SIZES}
    return summarize(runs, reference, predictor.decision.choose)


def summarize(
    runs: dict[str, dict[int, np.ndarray]], reference: np.ndarray, labels_of: Callable[[np.ndarray], np.ndarray]
) -> dict[str, Any]:
    """The report of ``verify_predictor`` from each run's probabilities at each batch size.

    Backends are compared with each other at batch size 1, with ``stored`` at every batch size, and with
    themselves across batch sizes; the runtime path only with ``stored``. Labels must all equal the reference's.
    """
    backends = [name for name in runs if name != RUNTIME_PATH]
    alone = {name: runs[name][BATCH_SIZES[0]] for name in backends}

    def vs_stored(name: str) -> float:
        return max(max_abs_diff(p, reference) for p in runs[name].values())

    pairs: dict[str, float] = {}
    for i, a in enumerate(backends):  # this order is the order verify prints them in
        for b in backends[i + 1 :]:
            pairs[f"{a}-vs-{b}"] = max_abs_diff(alone[a], alone[b])
        pairs[f"{a}-vs-{STORED}"] = vs_stored(a)
    pairs[f"{RUNTIME_PATH}-vs-{STORED}"] = vs_stored(RUNTIME_PATH)
    batch_invariance = {
        name: max(max_abs_diff(p, alone[name]) for p in runs[name].values()) for name in backends
    }
    expected = labels_of(reference)
    labels_agree = all(p.shape == reference.shape and np.array_equal(labels_of(p), expected)
                       for sizes in runs.values() for p in sizes.values())
    worst = max(list(pairs.values()) + list(batch_invariance.values()))
    return {
        "texts": len(reference),
        "batch_sizes": list(BATCH_SIZES),
        "max_abs_diff": pairs,
        "batch_invariance_max_abs_diff": batch_invariance,
        "labels_agree": labels_agree,
        "tolerance": TOLERANCE,
        "passed": bool(labels_agree and worst <= TOLERANCE),
    }
