"""The equivalence contract: eager PyTorch, TorchScript and ONNX Runtime agree on every text, whatever
batch it is in. Export runs this before it lets a bundle exist; ``reviewclf verify`` runs it again."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..runtime.encoding import TextEncoder

TOLERANCE = 1e-5
BATCH_SIZES = (1, 2, 7, 512)


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


def batched(
    texts: Sequence[str], batch_size: int, encoder: TextEncoder, run: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Probabilities of ``texts`` computed ``batch_size`` texts at a time, each batch padded on its own."""
    parts = [run(encoder.encode(texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)]
    return np.concatenate(parts)


def compare(
    texts: Sequence[str], encoder: TextEncoder, backends: dict[str, Callable[[np.ndarray], np.ndarray]],
    labels_of: Callable[[np.ndarray], np.ndarray], reference: np.ndarray | None = None,
) -> dict[str, Any]:
    """Run every backend at every batch size; report the largest difference per pair and label agreement.

    ``reference`` (e.g. the eager probabilities stored in a bundle) joins the comparison as ``stored``.
    """
    results: dict[str, np.ndarray] = {}
    for name, run in backends.items():
        for size in BATCH_SIZES:
            results[f"{name}@{size}"] = batched(texts, size, encoder, run)
    if reference is not None:
        results["stored"] = np.asarray(reference, dtype=np.float32)
    names = list(backends) + (["stored"] if reference is not None else [])
    first = {name: results[f"{name}@{BATCH_SIZES[0]}"] if name != "stored" else results[name] for name in names}
    pairs = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            pairs[f"{a}-vs-{b}"] = float(np.abs(first[a] - first[b]).max(initial=0.0))
    batch_invariance = {
        name: float(max(np.abs(results[f"{name}@{s}"] - first[name]).max(initial=0.0) for s in BATCH_SIZES))
        for name in backends
    }
    all_labels = [labels_of(p) for p in results.values()]
    labels_agree = all(np.array_equal(all_labels[0], other) for other in all_labels[1:])
    worst = max(list(pairs.values()) + list(batch_invariance.values()))
    return {
        "texts": len(texts),
        "batch_sizes": list(BATCH_SIZES),
        "max_abs_diff": pairs,
        "batch_invariance_max_abs_diff": batch_invariance,
        "labels_agree": labels_agree,
        "tolerance": TOLERANCE,
        "passed": bool(labels_agree and worst <= TOLERANCE),
    }
