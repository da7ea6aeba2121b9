"""Text augmentation on id batches (training batches only): word dropout."""

from __future__ import annotations

import torch

from ..errors import ReviewclfError


def parse_augment(spec: str | None) -> float | None:
    """``word-dropout=P`` -> P (None when not given: the model's default). The only augmentation; the spec
    names it so more can be added."""
    if not spec:
        return None
    name, _, value = spec.partition("=")
    if name.strip() != "word-dropout":
        raise ReviewclfError(f"unknown augmentation {spec!r}; use word-dropout=P")
    try:
        p = float(value)
    except ValueError:
        raise ReviewclfError(f"word-dropout needs a probability, got {value!r}") from None
    if not 0.0 <= p < 1.0:
        raise ReviewclfError("word-dropout probability must be in [0, 1)")
    return p


def word_dropout(ids: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each word by padding with probability ``p``; the models ignore padding, so the word is gone."""
    if p <= 0.0:
        return ids
    drop = torch.rand(ids.shape, device=ids.device, generator=generator) < p
    return ids.masked_fill(drop, 0)
