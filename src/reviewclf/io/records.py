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
    found = _match(names, wanted, defaults)
    return found[0] if found else None


def _match(names: list[str], wanted: str | None, defaults: Sequence[str]) -> tuple[int, str] | None:
    """``find_column``'s index and the name it was looking for."""
    folded = [name.lower() for name in names]
    for name in [wanted] if wanted is not None else defaults:
        if name in names:
            return names.index(name), name
        if name.lower() in folded:
            return folded.index(name.lower()), name
    return None


def refuse_duplicates(path: object, line: int | None, names: list[str], used: Sequence[str]) -> None:
    """The one error for a header naming a column twice, when the reader would use that name: which of the
    two was meant cannot be known, and taking the first silently scores or trains on the wrong one."""
    duplicates = sorted({name for name in used if names.count(name) > 1})
    if duplicates:
        raise located(path, line, f"duplicate column names in the header: {', '.join(duplicates)}")


def require_column(path: object, line: int | None, names: list[str], wanted: str | None,
                   defaults: Sequence[str], role: str) -> int:
    """``find_column``, or the one error every reader gives for a column that is not there, is named twice,
    or is found by a case-insensitive match that two names fit."""
    found = _match(names, wanted, defaults)
    if found is not None:
        at, looked_for = found
        refuse_duplicates(path, line, names, [names[at]])
        twins = [name for name in names if name.lower() == looked_for.lower()]
        if names[at] != looked_for and len(twins) > 1:
            raise located(path, line, f"columns {', '.join(map(repr, twins))} differ only in case; name one "
                                      f"exactly with --{role}-column")
        return at
    columns = ", ".join(names) or "none"
    if wanted is not None:
        raise located(path, line, f"no column {wanted!r}; the columns are: {columns}")
    raise located(path, line, f"no {role} column (one of {', '.join(defaults)}; name it with --{role}-column); "
                              f"the columns are: {columns}")
