"""The bundle format: names, version rules and the checks a reader must make (docs/bundle-format.md).

Export writes bundles with these definitions and the runtime reads them with the same ones, so the writer
and the reader cannot disagree about a file name or a version rule.
"""

from __future__ import annotations

import hashlib
import json
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path
from typing import IO, Any

from ..errors import ReviewclfError
from .manifest import FORMAT_MAJOR as FORMAT_MAJOR
from .manifest import FORMAT_MINOR as FORMAT_MINOR
from .manifest import FORMAT_NAME as FORMAT_NAME
from .manifest import MANIFEST, MAX_MANIFEST_BYTES, parse_manifest

READ_CHUNK = 1 << 20
# Zip members a bundle may use; anything else (or an encrypted member) is refused before it is read.
ZIP_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})

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


def file_entry(data: bytes) -> dict[str, Any]:
    """The manifest's record of one file: what a reader checks before trusting it."""
    return {"sha256": sha256_hex(data), "bytes": len(data)}


Opener = Callable[[], AbstractContextManager[IO[bytes]]]


class Bundle:
    """A validated bundle: its manifest, and its files read (and checksum-checked) when first asked for.

    ``load_bundle`` has already checked the file list and every size; a file's sha256 is checked each time
    its bytes are read, and nothing is kept: a server that only needs the ONNX model never holds the other
    artifacts, and does not hold the model's bytes beside ONNX Runtime's own copy either. Every read is
    bounded by the size the manifest lists, so a member that inflates beyond it is refused as it goes over.
    """

    def __init__(self, path: Path, manifest: dict[str, Any], openers: dict[str, Opener]):
        self.path = path
        self.manifest = manifest
        self._openers = openers

    @property
    def names(self) -> list[str]:
        return sorted(self._openers)

    def read(self, name: str) -> bytes:
        return self._stream(name, keep=True)

    def read_or_path(self, name: str) -> bytes | str:
        """A file as ONNX Runtime can load it, checksummed: a directory bundle's file as its path, an archive
        member as its bytes. Loading from a path spares a copy of the whole model at the peak of start-up."""
        if not self.path.is_dir():
            return self.read(name)
        self._stream(name, keep=False)
        return str(self.path / name)

    def _stream(self, name: str, keep: bool) -> bytes:
        """Hash a file chunk by chunk within its listed size, keeping its bytes only if asked."""
        if name not in self._openers:
            raise ReviewclfError(f"{self.path}: bundle has no {name}")
        entry = self.manifest["files"][name]
        limit, digest, chunks, total = entry["bytes"], hashlib.sha256(), [], 0
        with self._openers[name]() as stream:
            while chunk := stream.read(min(READ_CHUNK, limit + 1 - total)):
                total += len(chunk)
                if total > limit:
                    raise ReviewclfError(f"{self.path}: {name} is larger than the manifest says (the file was "
                                         "changed or damaged)")
                digest.update(chunk)
                if keep:
                    chunks.append(chunk)
        if total != limit or digest.hexdigest() != entry["sha256"]:
            raise ReviewclfError(f"{self.path}: checksum mismatch for {name} (the file was changed or damaged)")
        return b"".join(chunks)

    def read_json(self, name: str) -> Any:
        return json.loads(self.read(name).decode("utf-8"))

    def verify_all(self) -> None:
        """Check every file's checksum now, holding one chunk at a time."""
        for name in self.names:
            self._stream(name, keep=False)

    @property
    def labels(self) -> list[str]:
        return list(self.manifest["labels"])


def _list_members(path: Path) -> dict[str, tuple[int, Opener]]:
    """Every file of a bundle directory or zip archive as (size, opener), refusing anything that is not a
    plain file name at the top level."""
    members: dict[str, tuple[int, Opener]] = {}
    if path.is_dir():
        for child in sorted(path.iterdir()):
            if not child.is_file() or child.is_symlink():
                raise ReviewclfError(f"{path}: unexpected entry in bundle: {child.name}")
            members[child.name] = (child.stat().st_size, partial(_open_file, path, child))
    elif path.is_file():
        if not zipfile.is_zipfile(path):
            raise ReviewclfError(f"{path}: not a bundle (neither a directory nor a zip archive)")
        with _read_errors(path, "the archive"), zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                _check_member(path, info)
                if info.filename in members:
                    raise ReviewclfError(f"{path}: duplicate archive member: {info.filename!r}")
                members[info.filename] = (info.file_size, partial(_open_member, path, info.filename))
    else:
        raise ReviewclfError(f"{path}: no such bundle")
    return members


@contextmanager
def _open_file(path: Path, file: Path) -> Iterator[IO[bytes]]:
    with _read_errors(path, file.name), file.open("rb") as stream:
        yield stream


@contextmanager
def _open_member(path: Path, name: str) -> Iterator[IO[bytes]]:
    with _read_errors(path, name), zipfile.ZipFile(path) as archive, archive.open(name) as member:
        yield member


def _check_member(path: Path, info: zipfile.ZipInfo) -> None:
    """A member must be a plain, unencrypted file at the top level, stored or deflated."""
    name = info.filename
    if info.is_dir() or "/" in name or "\\" in name or name.startswith(".."):
        raise ReviewclfError(f"{path}: unsafe or unexpected archive member: {name!r}")
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind and kind != stat.S_IFREG:
        raise ReviewclfError(f"{path}: archive member {name!r} is not a plain file (links are not allowed)")
    if info.flag_bits & 0x1:
        raise ReviewclfError(f"{path}: archive member {name!r} is encrypted")
    if info.compress_type not in ZIP_METHODS:
        raise ReviewclfError(f"{path}: archive member {name!r} uses an unsupported compression method "
                             f"({info.compress_type}); bundles are stored or deflated")


@contextmanager
def _read_errors(path: Path, what: str) -> Iterator[None]:
    """A damaged archive (bad CRC, corrupt deflate data, truncated) or an unreadable file is one line."""
    try:
        yield
    except ReviewclfError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError, ValueError) as exc:
        raise ReviewclfError(f"{path}: cannot read {what} ({' '.join(str(exc).split()) or type(exc).__name__})"
                             ) from None


def _read_manifest(opener: Opener) -> bytes:
    with opener() as stream:
        return stream.read(MAX_MANIFEST_BYTES + 1)  # parse_manifest refuses anything longer


def is_bundle(path: Path) -> bool:
    """Whether ``path`` looks like a bundle (a directory or zip with a manifest): what --force may replace."""
    if path.is_dir():
        return (path / MANIFEST).is_file()
    try:
        with zipfile.ZipFile(path) as archive:
            return MANIFEST in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def load_bundle(path: str | Path, verify_all: bool = True) -> Bundle:
    """Read and validate a bundle directory or archive; raise ReviewclfError on anything untrustworthy.

    ``verify_all=False`` defers each file's checksum to its first read (the runtime reads only what it uses).
    """
    path = Path(path)
    members = _list_members(path)
    if MANIFEST not in members:
        raise ReviewclfError(f"{path}: not a bundle (no {MANIFEST})")
    manifest = parse_manifest(path, _read_manifest(members.pop(MANIFEST)[1]))
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
    bundle = Bundle(path, manifest, {name: opener for name, (_, opener) in members.items()})
    if verify_all:
        bundle.verify_all()
    return bundle
