"""The manifest's schema, checked once when a bundle is loaded: one message naming the first bad field.

A reader that trusts an unchecked field fails later with a ``KeyError`` or ``TypeError`` deep in info,
verify or predict; checking here means the rest of the code may index the manifest freely. Fields a newer
minor version adds are ignored, as the format promises.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ReviewclfError

FORMAT_NAME = "reviewclf-bundle"
FORMAT_MAJOR = 1
FORMAT_MINOR = 0
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 4 << 20  # a manifest is a few kilobytes; a larger one is refused before it is parsed
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MISSING = object()


def _integer(low: int) -> Callable[[Any], bool]:
    return lambda value: type(value) is int and value >= low


def _is(kind: type) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, kind)


def _probability(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value) and 0.0 <= value <= 1.0


def _labels(value: Any) -> bool:
    return (isinstance(value, list) and len(value) >= 2 and all(isinstance(x, str) and x for x in value)
            and len(set(value)) == len(value))


def _file_entries(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(entry, dict) and isinstance(entry.get("sha256"), str) and _SHA256.fullmatch(entry["sha256"])
        and _integer(0)(entry.get("bytes"))
        for entry in value.values()
    )


# (field, check, what it must be); a field is checked only when the one it lies in passed.
_FIELDS: list[tuple[str, Callable[[Any], bool], str]] = [
    ("format_minor", _integer(0), "a non-negative integer"),
    ("created_by", lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
     "an object of version strings"),
    ("opset", _integer(1), "a positive integer"),
    ("model", _is(dict), "an object"),
    ("model.kind", _is(str), "a string"),
    ("model.hyperparameters", _is(dict), "an object"),
    ("model.n_outputs", _integer(1), "a positive integer"),
    ("labels", _labels, "a list of at least two distinct, non-empty label names"),
    ("decision", _is(dict), "an object"),
    ("decision.type", lambda v: v in ("threshold", "argmax"), "'threshold' or 'argmax'"),
    ("input", _is(dict), "an object"),
    ("input.vocab_size", _integer(1), "a positive integer"),
    ("input.pad_id", _integer(0), "a non-negative integer"),
    ("output", _is(dict), "an object"),
    ("max_length", _integer(1), "a positive integer"),
    ("files", _file_entries, "an object of {\"sha256\": 64 hex digits, \"bytes\": integer} entries"),
]
_OPTIONAL: list[tuple[str, Callable[[Any], bool], str]] = [
    ("metrics", _is(dict), "an object"),
    ("equivalence", _is(dict), "an object"),
]


def _get(manifest: dict[str, Any], dotted: str) -> Any:
    value: Any = manifest
    for key in dotted.split("."):
        value = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
    return value


def parse_manifest(path: Path, raw: bytes) -> dict[str, Any]:
    """The manifest of the bundle at ``path``, checked field by field; refused as one line otherwise."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ReviewclfError(f"{path}: {MANIFEST} is larger than {MAX_MANIFEST_BYTES >> 20} MiB")
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ReviewclfError(f"{path}: {MANIFEST} is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: bad JSON, or an integer of thousands of digits
        raise ReviewclfError(f"{path}: {MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ReviewclfError(f"{path}: not a {FORMAT_NAME} manifest")
    major = manifest.get("format_major")
    if major != FORMAT_MAJOR or type(major) is not int:
        raise ReviewclfError(
            f"{path}: bundle format version {major} is not supported (this reviewclf reads version {FORMAT_MAJOR})"
        )
    for field, check, meaning in _FIELDS:
        value = _get(manifest, field)
        if value is _MISSING or not check(value):
            raise ReviewclfError(f"{path}: {MANIFEST}: '{field}' must be {meaning}")
    for field, check, meaning in _OPTIONAL:
        value = _get(manifest, field)
        if value is not _MISSING and not check(value):
            raise ReviewclfError(f"{path}: {MANIFEST}: '{field}' must be {meaning}")
    _check_consistency(path, manifest)
    return manifest


def _check_consistency(path: Path, manifest: dict[str, Any]) -> None:
    """What the fields must say together: the outputs, the decision rule and the labels agree."""
    labels, decision = manifest["labels"], manifest["decision"]
    n_outputs = manifest["model"]["n_outputs"]

    def refuse(problem: str) -> None:
        raise ReviewclfError(f"{path}: {MANIFEST}: {problem}")

    if n_outputs != (1 if len(labels) == 2 else len(labels)):
        refuse(f"'model.n_outputs' {n_outputs} does not fit {len(labels)} labels")
    if (decision["type"] == "threshold") != (len(labels) == 2):
        refuse(f"a '{decision['type']}' decision does not fit {len(labels)} labels")
    if decision["type"] == "threshold":
        if not _probability(decision.get("threshold")):
            refuse("'decision.threshold' must be a number in [0, 1]")
        if decision.get("positive_label") != labels[1]:
            refuse("'decision.positive_label' must be the second label")
    columns = manifest["output"].get("columns", labels)
    if columns != labels:
        refuse("'output.columns' must equal 'labels'")
