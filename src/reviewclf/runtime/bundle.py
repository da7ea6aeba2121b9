"""The bundle format: names, version rules and the checks a reader must make (docs/bundle-format.md).

Export writes bundles with these definitions and the runtime reads them with the same ones, so the writer
and the reader cannot disagree about a file name or a version rule.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ReviewclfError

FORMAT_NAME = "reviewclf-bundle"
FORMAT_MAJOR = 1
FORMAT_MINOR = 0

MANIFEST = "manifest.json"
TOKENIZER = "tokenizer.json"
ONNX_MODEL = "model.onnx"
ONNX_INT8_MODEL = "model.int8.onnx"
TORCHSCRIPT_MODEL = "model.torchscript.pt"
EXPORTED_PROGRAM = "model.pt2"
VERIFICATION = "verification.json"

KNOWN_FILES = frozenset(
    {TOKENIZER, ONNX_MODEL, ONNX_INT8_MODEL, TORCHSCRIPT_MODEL, EXPORTED_PROGRAM, VERIFICATION}
)
REQUIRED_FILES = frozenset({TOKENIZER, ONNX_MODEL})
INPUT_NAME = "input_ids"
OUTPUT_NAME = "probabilities"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256_hex(path: Path) -> str:
    """The sha256 of a file read in 1 MiB chunks, so a large model is never held whole just to check it."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_entry(data: bytes) -> dict[str, Any]:
    """The manifest's record of one file: what a reader checks before trusting it."""
    return {"sha256": sha256_hex(data), "bytes": len(data)}


class Bundle:
    """A validated bundle: its manifest, and its files read (and checksum-checked) when first asked for.

    ``load_bundle`` has already checked the file list and every size; a file's sha256 is checked each time
    its bytes are read, and nothing is kept: a server that only needs the ONNX model never holds the other
    artifacts, and does not hold the model's bytes beside ONNX Runtime's own copy either.
    """

    def __init__(self, path: Path, manifest: dict[str, Any], readers: dict[str, Callable[[], bytes]]):
        self.path = path
        self.manifest = manifest
        self._readers = readers

    @property
    def names(self) -> list[str]:
        return sorted(self._readers)

    def read(self, name: str) -> bytes:
        self._check_listed(name)
        data = self._readers[name]()
        self._check_sum(name, len(data), sha256_hex(data))
        return data

    def read_or_path(self, name: str) -> bytes | str:
        """A file as ONNX Runtime can load it, checksummed: a directory bundle's file as its path (hashed
        chunk by chunk), an archive member as its bytes.

        Loading from a path spares the caller's copy of the bytes: a whole model's size less at
        the peak of start-up.
        """
        if not self.path.is_dir():
            return self.read(name)
        self._check_listed(name)
        file = self.path / name
        self._check_sum(name, file.stat().st_size, file_sha256_hex(file))
        return str(file)

    def _check_listed(self, name: str) -> None:
        if name not in self._readers:
            raise ReviewclfError(f"{self.path}: bundle has no {name}")

    def _check_sum(self, name: str, size: int, sha256: str) -> None:
        entry = self.manifest["files"][name]
        if size != entry.get("bytes") or sha256 != entry.get("sha256"):
            raise ReviewclfError(f"{self.path}: checksum mismatch for {name} (the file was changed or damaged)")

    def read_json(self, name: str) -> Any:
        return json.loads(self.read(name).decode("utf-8"))

    def verify_all(self) -> None:
        """Check every file's checksum now."""
        for name in self.names:
            self.read(name)

    @property
    def labels(self) -> list[str]:
        return list(self.manifest["labels"])


def _list_members(path: Path) -> dict[str, tuple[int, Callable[[], bytes]]]:
    """Every file of a bundle directory or zip archive as (size, reader), refusing anything that is not a
    plain file name at the top level."""
    members: dict[str, tuple[int, Callable[[], bytes]]] = {}
    if path.is_dir():
        for child in sorted(path.iterdir()):
            if not child.is_file() or child.is_symlink():
                raise ReviewclfError(f"{path}: unexpected entry in bundle: {child.name}")
            members[child.name] = (child.stat().st_size, child.read_bytes)
    elif path.is_file():
        if not zipfile.is_zipfile(path):
            raise ReviewclfError(f"{path}: not a bundle (neither a directory nor a zip archive)")
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename
                if info.is_dir() or "/" in name or "\\" in name or name.startswith(".."):
                    raise ReviewclfError(f"{path}: unsafe or unexpected archive member: {name!r}")
                if name in members:
                    raise ReviewclfError(f"{path}: duplicate archive member: {name!r}")
                members[name] = (info.file_size, _zip_reader(path, name))
    else:
        raise ReviewclfError(f"{path}: no such bundle")
    return members


def _zip_reader(path: Path, name: str) -> Callable[[], bytes]:
    def read() -> bytes:
        with zipfile.ZipFile(path) as archive:
            return archive.read(name)

    return read


def parse_manifest(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReviewclfError(f"{path}: {MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ReviewclfError(f"{path}: not a {FORMAT_NAME} manifest")
    major = manifest.get("format_major")
    if major != FORMAT_MAJOR:
        raise ReviewclfError(
            f"{path}: bundle format version {major} is not supported (this reviewclf reads version {FORMAT_MAJOR})"
        )
    _check_fields(path, manifest)
    return manifest


def _check_fields(path: Path, manifest: dict[str, Any]) -> None:
    """The fields every reader relies on, with their types, so a damaged manifest is one clear error."""
    labels = manifest.get("labels")
    if not (isinstance(labels, list) and len(labels) >= 2 and all(isinstance(x, str) for x in labels)):
        raise ReviewclfError(f"{path}: {MANIFEST} needs 'labels', a list of at least two label names")
    decision = manifest.get("decision")
    if not (isinstance(decision, dict) and decision.get("type") in ("threshold", "argmax")):
        raise ReviewclfError(f"{path}: {MANIFEST} needs a 'decision' of type threshold or argmax")
    spec = manifest.get("input")
    if not (isinstance(spec, dict) and isinstance(spec.get("vocab_size"), int) and spec["vocab_size"] > 0):
        raise ReviewclfError(f"{path}: {MANIFEST} needs 'input.vocab_size', a positive integer")
    files = manifest.get("files")
    if not (isinstance(files, dict) and all(isinstance(e, dict) for e in files.values())):
        raise ReviewclfError(f"{path}: {MANIFEST} has no file list (or a damaged one)")


def is_bundle(path: Path) -> bool:
    """Whether ``path`` looks like a bundle (a directory or zip with a manifest): what --force may replace."""
    if path.is_dir():
        return (path / MANIFEST).is_file()
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return MANIFEST in archive.namelist()
    return False


def load_bundle(path: str | Path, verify_all: bool = True) -> Bundle:
    """Read and validate a bundle directory or archive; raise ReviewclfError on anything untrustworthy.

    ``verify_all=False`` defers each file's checksum to its first read (the runtime reads only what it uses).
    """
    path = Path(path)
    members = _list_members(path)
    if MANIFEST not in members:
        raise ReviewclfError(f"{path}: not a bundle (no {MANIFEST})")
    manifest = parse_manifest(path, members.pop(MANIFEST)[1]())
    listed = manifest["files"]
    for name in sorted(set(members) - set(listed)):
        raise ReviewclfError(f"{path}: file not listed in the manifest: {name}")
    for name in sorted(set(listed) - KNOWN_FILES):
        raise ReviewclfError(f"{path}: manifest lists an unknown file: {name!r}")
    for name in sorted(REQUIRED_FILES - set(listed)):
        raise ReviewclfError(f"{path}: bundle lacks the required file {name}")
    for name, entry in sorted(listed.items()):
        if name not in members:
            raise ReviewclfError(f"{path}: missing file {name}")
        if members[name][0] != entry.get("bytes"):
            raise ReviewclfError(f"{path}: checksum mismatch for {name} (the file was changed or damaged)")
    bundle = Bundle(path, manifest, {name: reader for name, (_, reader) in members.items()})
    if verify_all:
        bundle.verify_all()
    return bundle
