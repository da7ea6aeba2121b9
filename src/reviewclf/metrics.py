"""Classification metrics in numpy, shared by training (on tensors moved to numpy) and ``evaluate``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int) -> np.ndarray:
    """Rows are true labels, columns predicted labels."""
    matrix = np.zeros((n_labels, n_labels), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return matrix


def per_label_scores(matrix: np.ndarray) -> tuple[np.ndarray, ...]:
    """Precision, recall and F1 of every label from a confusion matrix (``[..., true, predicted]``: a stack of
    matrices gives a stack of scores). A label never predicted has precision 0 (not NaN), so the macro mean stays
    defined and comparable."""
    true_pos = np.diagonal(matrix, axis1=-2, axis2=-1).astype(np.float64)
    predicted = matrix.sum(axis=-2)
    support = matrix.sum(axis=-1)
    precision = np.divide(true_pos, predicted, out=np.zeros_like(true_pos), where=predicted > 0)
    recall = np.divide(true_pos, support, out=np.zeros_like(true_pos), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(true_pos), where=denom > 0)
    return precision, recall, f1


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-label precision/recall/F1/support, their macro means, and the confusion matrix."""
    matrix = confusion_matrix(y_true, y_pred, len(labels))
    precision, recall, f1 = per_label_scores(matrix)
    true_pos, support = np.diag(matrix).astype(np.float64), matrix.sum(axis=1)
    total = int(matrix.sum())
    return {
        "n": total,
        "accuracy": float(true_pos.sum() / total) if total else 0.0,
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "per_label": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "labels": list(labels),
        "confusion_matrix": matrix.tolist(),
    }


def format_report(report: dict[str, Any]) -> str:
    """A small human table of a classification report."""
    labels = report["labels"]
    width = max([len(label) for label in labels] + [9])
    lines = [f"accuracy {report['accuracy']:.4f}  macro-F1 {report['macro_f1']:.4f}  (n={report['n']})"]
    lines.append(f"{'label':<{width}}  precision  recall     f1  support")
    for label in labels:
        m = report["per_label"][label]
        lines.append(
            f"{label:<{width}}  {m['precision']:9.4f}  {m['recall']:6.4f}  {m['f1']:.4f}  {m['support']:7d}"
        )
    lines.append("confusion matrix (rows = true, columns = predicted):")
    for label, row in zip(labels, report["confusion_matrix"]):
        lines.append(f"{label:<{width}}  " + " ".join(f"{v:7d}" for v in row))
    return "\n".join(lines)
