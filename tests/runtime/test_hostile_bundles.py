"""Hostile bundles: damaged and malicious archives, manifests that lie or break their schema, and bundles whose
checksums hold but whose model does not fit the manifest or the tokenizer. Each is one line from
``load_bundle``, ``info``, ``verify`` and (where the file is used) ``predict``, with a bounded memory."""

from __future__ import annotations

import hashlib
import json
import stat
import struct
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from reviewclf.cli import main
from reviewclf.runtime.bundle import MANIFEST, ONNX_MODEL, TOKENIZER
from tests.runtime.tampering import assert_refused, edit_manifest, zip_bundle
from tests.support import run_measured

CENTRAL = b"PK\x01\x02"


def central_entry(archive: Path, member: str) -> int:
    """The offset of ``member``'s central-directory record (zipfile reads sizes, CRC and flags from it)."""
    data = archive.read_bytes()
    at = data.find(CENTRAL)
    while at != -1:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_length].decode() == member:
            return at
        at = data.find(CENTRAL, at + 4)
    raise AssertionError(f"{member} not in {archive}")


def patch(archive: Path, at: int, fmt: str, value: int) -> None:
    data = bytearray(archive.read_bytes())
    struct.pack_into(fmt, data, at, value)
    archive.write_bytes(bytes(data))


def predict_fails(bundle: Path, words: str) -> None:
    result = CliRunner().invoke(main, ["predict", str(bundle), "-"], input="good food\n")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr


def rewrite(bundle: Path, name: str, data: bytes, change: Callable[[dict], None] = lambda m: None) -> None:
    """Replace a file and update the manifest to match it, as an attacker who knows the format would."""
    (bundle / name).write_bytes(data)

    def update(manifest: dict) -> None:
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        change(manifest)

    edit_manifest(bundle, update)


def test_a_symlink_member_is_refused(bundle: Path, tmp_path: Path) -> None:
    archive = zip_bundle(bundle, tmp_path / "b.zip")
    patch(archive, central_entry(archive, TOKENIZER) + 38, "<I", (stat.S_IFLNK | 0o777) << 16)
    assert_refused(archive, "not a plain file")
    predict_fails(archive, "not a plain file")


@pytest.mark.parametrize(("field", "offset", "fmt", "value", "words"), [
    ("crc", 16, "<I", 0x12345678, "cannot read model.onnx"),
    ("encrypted", 8, "<H", 0x1, "is encrypted"),
    ("method", 10, "<H", 99, "unsupported compression method"),
])
def test_a_damaged_or_unsupported_member_is_one_line(bundle: Path, tmp_path: Path, field: str, offset: int,
                                                     fmt: str, value: int, words: str) -> None:
    archive = zip_bundle(bundle, tmp_path / "b.zip")
    patch(archive, central_entry(archive, ONNX_MODEL) + offset, fmt, value)
    assert_refused(archive, words)
    predict_fails(archive, words)


def test_corrupt_deflate_data_is_one_line(bundle: Path, tmp_path: Path) -> None:
    archive = zip_bundle(bundle, tmp_path / "b.zip")
    with zipfile.ZipFile(archive) as handle:
        info = handle.getinfo(ONNX_MODEL)
    data = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode())
    for at in range(start + 10, start + info.compress_size - 10, 97):
        data[at] ^= 0xFF
    archive.write_bytes(bytes(data))
    assert_refused(archive, "cannot read model.onnx")


def test_a_member_inflating_past_its_listed_size_is_refused_in_bounded_memory(bundle: Path,
                                                                              tmp_path: Path) -> None:
    """A zip bomb whose headers claim the size the manifest lists: refused at that size, not read whole, by
    ``verify`` (every file) and ``predict`` (the files it uses)."""
    listed = (bundle / TOKENIZER).stat().st_size
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as handle:
        for path in sorted(bundle.iterdir()):
            if path.name != TOKENIZER:
                handle.write(path, arcname=path.name)
        handle.writestr(TOKENIZER, b"\0" * (400 << 20))  # 400 MB inflating from ~400 kB
    patch(archive, central_entry(archive, TOKENIZER) + 24, "<I", listed)  # the central directory lies
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("good food\n")
    for command in (["verify", str(archive)], ["predict", str(archive), str(reviews)]):
        code, _, stderr, peak_mb = run_measured([sys.executable, "-m", "reviewclf", *command])
        assert code == 1 and "Traceback" not in stderr, stderr
        assert TOKENIZER in stderr and ("larger than the manifest" in stderr or "cannot read" in stderr), stderr
        assert peak_mb < 300, (command[0], peak_mb)


def test_labels_that_do_not_fit_the_models_outputs_are_refused_at_load(bundle: Path) -> None:
    """Three labels, an argmax rule and three outputs claimed, for a model that gives two columns."""
    def three_labels(manifest: dict) -> None:
        manifest["labels"] = manifest["output"]["columns"] = ["negative", "neutral", "positive"]
        manifest["model"]["n_outputs"] = 3
        manifest["decision"] = {"type": "argmax", "description": "the most probable"}

    edit_manifest(bundle, three_labels)
    assert_refused_at_load(bundle, "not (1, 3)")


def test_a_tokenizer_larger_than_the_models_table_is_refused_at_load(bundle: Path) -> None:
    tokenizer = json.loads((bundle / TOKENIZER).read_text(encoding="utf-8"))
    vocab = tokenizer["model"]["vocab"]
    vocab.update({f"grown{i}": len(vocab) + i for i in range(5000)})
    grown = len(vocab)
    rewrite(bundle, TOKENIZER, json.dumps(tokenizer).encode(),
            lambda manifest: manifest["input"].update(vocab_size=grown))
    assert_refused_at_load(bundle, "cannot take the tokenizer's ids")


def assert_refused_at_load(bundle: Path, words: str) -> None:
    """Checksums hold, so ``info`` shows the bundle; ``verify`` and ``predict`` refuse it in one line."""
    assert CliRunner().invoke(main, ["info", str(bundle)]).exit_code == 0
    result = CliRunner().invoke(main, ["verify", str(bundle)])
    assert result.exit_code == 1 and words in result.stderr and "Traceback" not in result.output
    predict_fails(bundle, words)


@pytest.mark.parametrize(("change", "words"), [
    (lambda m: m["decision"].update(threshold="high"), "'decision.threshold' must be a number"),
    (lambda m: m["decision"].update(threshold=None), "'decision.threshold' must be a number"),
    (lambda m: m.pop("model"), "'model' must be an object"),
    (lambda m: m.pop("max_length"), "'max_length' must be a positive integer"),
    (lambda m: m.pop("created_by"), "'created_by' must be an object"),
    (lambda m: m["model"].update(n_outputs=True), "'model.n_outputs' must be"),
    (lambda m: m.update(labels=["a", "a"]), "'labels' must be a list of at least two distinct"),
    (lambda m: m["files"][ONNX_MODEL].update(bytes=-1), "'files' must be"),
    (lambda m: m.update(metrics=[1]), "'metrics' must be an object"),
])
def test_a_manifest_breaking_its_schema_is_one_line_per_field(bundle: Path, change: Callable[[dict], None],
                                                              words: str) -> None:
    edit_manifest(bundle, change)
    assert_refused(bundle, words)
    predict_fails(bundle, words)


@pytest.mark.parametrize(("text", "words"), [
    ('{"format": "reviewclf-bundle", "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ('{"format": "reviewclf-bundle", "format_major": ' + "9" * 5000 + "}", "not valid JSON"),
    (" " * (5 << 20) + "{}", "larger than"),
])
def test_a_manifest_built_to_break_the_parser_is_one_line(bundle: Path, text: str, words: str) -> None:
    (bundle / MANIFEST).write_text(text)
    assert_refused(bundle, words)
