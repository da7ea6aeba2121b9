"""PNG pictures of a run: the training curves, the confusion matrix and autotune's trials (matplotlib, no display
needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_curves(history: list[dict[str, float]], path: Path) -> None:
    """Loss and accuracy per epoch for train and val, side by side."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [h["epoch"] for h in history]
    for split in ("train", "val"):
        loss_ax.plot(epochs, [h[f"{split}_loss"] for h in history], marker="o", label=split)
        acc_ax.plot(epochs, [h[f"{split}_acc"] for h in history], marker="o", label=split)
    for ax, name in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(report: dict[str, Any], path: Path) -> None:
    """The confusion matrix of a classification report, counts written in the cells."""
    labels = report["labels"]
    matrix = report["confusion_matrix"]
    size = 2.5 + 0.6 * len(labels)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(j, i, str(value), ha="center", va="center", color="white" if value > peak / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)



def plot_trials(trials: list[dict[str, Any]], metric: str, path: Path) -> None:
    """autotune: each trial's validation ``metric`` by trial number, one colour per model kind (hollow: the
    trial was pruned or cut short), and the best so far as a step line."""
    fig, ax = plt.subplots(figsize=(8, 4))
    scored = [t for t in trials if t.get(metric) not in (None, "")]
    kinds = sorted({t["model"] for t in scored})
    for colour, kind in enumerate(kinds):
        for complete in (True, False):
            points = [t for t in scored if t["model"] == kind and (t["state"] == "complete") == complete]
            if points:
                ax.scatter([t["trial"] for t in points], [float(t[metric]) for t in points],
                           edgecolors=f"C{colour}", facecolors=f"C{colour}" if complete else "none",
                           label=kind if complete else f"{kind} (pruned / cut)")
    running = np.maximum.accumulate([float(t[metric]) for t in scored]) if scored else []
    ax.step([t["trial"] for t in scored], running, where="post", color="gray", alpha=0.6, label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation {metric.removeprefix('val_').replace('_', '-')}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
