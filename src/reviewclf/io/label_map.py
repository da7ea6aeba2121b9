"""Label maps: ``--label-map '1=negative,5=positive'`` turns raw labels (stars, codes) into label names."""

from __future__ import annotations

from ..errors import ReviewclfError


def parse_label_map(spec: str) -> dict[str, str]:
    """Parse ``'1=negative,2=negative,4=positive'`` into ``{'1': 'negative', ...}``.

    Items are split on ``,`` and each item on its first ``=``, so keys may contain spaces and colons
    (``'Review Stars: 1.0=negative'``). Keys and names are stripped; empty items are ignored.
    """
    mapping: dict[str, str] = {}
    for item in spec.split(","):
        if not item.strip():
            continue
        key, eq, name = item.partition("=")
        key, name = key.strip(), name.strip()
        if not eq or not key or not name:
            raise ReviewclfError(f"bad label map {spec!r}: {item.strip()!r} is not LABEL=NAME")
        if mapping.get(key, name) != name:
            raise ReviewclfError(
                f"bad label map {spec!r}: {key!r} is mapped to both {mapping[key]!r} and {name!r}"
            )
        mapping[key] = name
    if not mapping:
        raise ReviewclfError(f"bad label map {spec!r}: expected LABEL=NAME[,LABEL=NAME...]")
    return mapping


def lookup_label(label: str, label_map: dict[str, str]) -> str | None:
    """Map a label, also matching ``'4.0'`` to key ``'4'`` and ``'Review Stars: 4.0'`` to ``'4'``.

    Star ratings are written as floats or behind a ``Name: `` prefix in some exports (yelp-augpe); the
    map is written with the plain values.
    """
    candidates = [label]
    if ": " in label:
        candidates.append(label.rsplit(": ", 1)[1].strip())
    for candidate in candidates:
        if candidate in label_map:
            return label_map[candidate]
        try:
            number = float(candidate)
        except ValueError:
            continue
        if number.is_integer() and str(int(number)) in label_map:
            return label_map[str(int(number))]
    return None
