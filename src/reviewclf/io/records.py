"""Column lookup for CSV/TSV/JSONL records: one rule and one set of words for every command."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import located

TEXT_COLUMNS = ("text", "review", "sentence", "content")  # tried in order when no text column is named


def find_column(names: list[str], wanted: str | None, defaults: Sequence[str]) -> int | None:
    """Index of ``wanted`` (exact, else case-insensitive), or when none is named, of the first default present.

    Exports vary the case of their headers (``Sentence``, ``TEXT``); an exact match still wins so that
    ``text`` and ``Text`` in one header stay distinguishable.
    """
    folded = [name.lower() for name in names]
    for name in [wanted] if wanted is not None else defaults:
        if name in names:
            return names.index(name)
        if name.lower() in folded:
            return folded.index(name.lower())
    return None


def require_column(path: object, line: int | None, names: list[str], wanted: str | None,
                   defaults: Sequence[str], role: str) -> int:
    """``find_column``, or the one error every reader gives for a column that is not there."""
    at = find_column(names, wanted, defaults)
    if at is not None:
        return at
    columns = ", ".join(names) or "none"
    if wanted is not None:
        raise located(path, line, f"no column {wanted!r}; the columns are: {columns}")
    raise located(path, line, f"no {role} column (one of {', '.join(defaults)}; name it with --{role}-column); "
                              f"the columns are: {columns}")
