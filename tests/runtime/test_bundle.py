"""The runtime side of the bundle contract: what ``load_bundle``, ``Predictor`` and ``reviewclf verify``/``info``
refuse (one line, no traceback), and that the directory and archive forms read the same."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from reviewclf.cli import main
from reviewclf.errors import ReviewclfError
from reviewclf.runtime.bundle import (
    FORMAT_MAJOR,
    FORMAT_NAME,
    MANIFEST,
    ONNX_MODEL,
    TOKENIZER,
    TORCHSCRIPT_MODEL,
    load_bundle,
)
from reviewclf.runtime.predictor import Predictor
from tests.runtime.tampering import assert_refused, edit_manifest, flip_byte, zip_bundle

TEXTS = ["The food was great and the staff lovely.", "Cold, bland and overpriced. Never again.", "", "ok"]


# ------------------------------------------------------------------------------------------ checksums


@pytest.mark.parametrize("name", [ONNX_MODEL, TOKENIZER, TORCHSCRIPT_MODEL])
def test_one_changed_byte_is_refused_as_a_checksum_mismatch(bundle: Path, name: str) -> None:
    flip_byte(bundle / name, len((bundle / name).read_bytes()) // 2)
    message = assert_refused(bundle, "checksum", name)
    if name != TORCHSCRIPT_MODEL:  # the ONNX predictor checks what it reads (see the test below)
        with pytest.raises(ReviewclfError, match="checksum"):
            Predictor.load(bundle)
    assert str(bundle) in message


def test_truncated_file_is_refused(bundle: Path) -> None:
    data = (bundle / ONNX_MODEL).read_bytes()
    (bundle / ONNX_MODEL).write_bytes(data[:-1])
    assert_refused(bundle, "checksum", ONNX_MODEL)


def test_changed_byte_inside_an_archive_is_refused(bundle: Path, tmp_path: Path) -> None:
    flip_byte(bundle / ONNX_MODEL, 100)
    assert_refused(zip_bundle(bundle, tmp_path / "tampered.zip"), "checksum", ONNX_MODEL)


def test_console_script_prints_one_line_without_traceback(bundle: Path) -> None:
    flip_byte(bundle / TOKENIZER, 10)
    script = Path(sys.executable).parent / "reviewclf"
    done = subprocess.run([str(script), "verify", str(bundle)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "checksum" in lines[0]


# ------------------------------------------------------------------------------------------- manifest


def test_unknown_major_version_is_refused(bundle: Path) -> None:
    edit_manifest(bundle, lambda m: m.update(format_major=FORMAT_MAJOR + 1))
    message = assert_refused(bundle, "version", str(FORMAT_MAJOR + 1))
    assert "not supported" in message


def test_major_version_must_be_the_integer(bundle: Path) -> None:
    edit_manifest(bundle, lambda m: m.update(format_major=str(FORMAT_MAJOR)))
    assert_refused(bundle, "version")


def test_newer_minor_version_with_added_fields_is_read(bundle: Path) -> None:
    """Minor versions only add fields: a 1.x reader reads a 1.9 bundle and ignores what it does not know."""
    edit_manifest(bundle, lambda m: m.update(format_minor=9, added_in_1_9={"anything": [1, 2, 3]}))
    predictor = Predictor.load(bundle)
    assert predictor.bundle.manifest["format_minor"] == 9
    assert predictor.predict_proba(TEXTS).shape == (len(TEXTS), 2)


def test_manifest_that_is_not_json_is_refused(bundle: Path) -> None:
    (bundle / MANIFEST).write_text('{"format": "reviewclf-bundle", "format_major": 1,', encoding="utf-8")
    assert_refused(bundle, "not valid JSON")


def test_manifest_that_is_not_utf8_is_refused(bundle: Path) -> None:
    (bundle / MANIFEST).write_bytes(b'{"format": "\xff"}')
    assert_refused(bundle, "not valid JSON")


@pytest.mark.parametrize("value", ["reviewclf-model", None, 1])
def test_wrong_format_name_is_refused(bundle: Path, value: object) -> None:
    edit_manifest(bundle, lambda m: m.update(format=value))
    assert_refused(bundle, f"not a {FORMAT_NAME} manifest")


def test_manifest_that_is_a_list_is_refused(bundle: Path) -> None:
    (bundle / MANIFEST).write_text("[1, 2]", encoding="utf-8")
    assert_refused(bundle, f"not a {FORMAT_NAME} manifest")


def test_missing_manifest_is_refused(bundle: Path) -> None:
    (bundle / MANIFEST).unlink()
    assert_refused(bundle, "no manifest.json")


def test_manifest_without_a_file_list_is_refused(bundle: Path) -> None:
    edit_manifest(bundle, lambda m: m.pop("files"))
    assert_refused(bundle, "'files' must be")


def test_manifest_listing_an_unknown_file_is_refused(bundle: Path) -> None:
    edit_manifest(bundle, lambda m: m["files"].update({"../escape.txt": {"sha256": "0" * 64, "bytes": 1}}))
    assert_refused(bundle, "unknown file")


# -------------------------------------------------------------------------------------- the file set


def test_missing_listed_file_is_refused(bundle: Path) -> None:
    (bundle / TORCHSCRIPT_MODEL).unlink()
    assert_refused(bundle, "missing file", TORCHSCRIPT_MODEL)


def test_missing_required_file_is_refused_even_if_unlisted(bundle: Path) -> None:
    (bundle / ONNX_MODEL).unlink()
    edit_manifest(bundle, lambda m: m["files"].pop(ONNX_MODEL))
    assert_refused(bundle, "required file", ONNX_MODEL)


@pytest.mark.parametrize("name", ["notes.txt", ".hidden", "model.onnx.bak"])
def test_extra_unlisted_file_is_refused(bundle: Path, name: str) -> None:
    (bundle / name).write_bytes(b"not part of the bundle")
    assert_refused(bundle, "not listed", name)


def test_directory_inside_the_bundle_is_refused(bundle: Path) -> None:
    (bundle / "sub").mkdir()
    assert_refused(bundle, "unexpected entry", "sub")


def test_symlink_inside_the_bundle_is_refused(bundle: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.onnx"
    shutil.move(bundle / ONNX_MODEL, outside)
    (bundle / ONNX_MODEL).symlink_to(outside)
    assert_refused(bundle, "unexpected entry", ONNX_MODEL)


def test_path_that_is_neither_a_directory_nor_a_zip_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "bundle.zip"
    plain.write_text("just text")
    assert_refused(plain, "not a bundle")
    assert_refused(tmp_path / "nowhere", "no such bundle")


# ------------------------------------------------------------------------------------------- archives


@pytest.mark.parametrize("member", ["../evil", "sub/x", "/abs", "sub\\x", "..", "sub/"])
def test_archive_member_with_a_path_is_refused(demo_bundle: Path, tmp_path: Path, member: str) -> None:
    archive = zip_bundle(demo_bundle, tmp_path / "evil.zip", extra={member: b"payload"})
    with zipfile.ZipFile(archive) as handle:
        assert member in handle.namelist()
    message = assert_refused(archive, "unsafe or unexpected archive member")
    assert repr(member) in message


def test_archive_with_an_unlisted_member_is_refused(demo_bundle: Path, tmp_path: Path) -> None:
    assert_refused(zip_bundle(demo_bundle, tmp_path / "extra.zip", extra={"notes.txt": b"x"}), "not listed")


def test_archive_with_a_duplicate_member_is_refused(demo_bundle: Path, tmp_path: Path) -> None:
    archive = zip_bundle(demo_bundle, tmp_path / "dup.zip")
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(archive, "a") as handle:
        handle.writestr(ONNX_MODEL, b"a second model.onnx")
    assert_refused(archive, "duplicate archive member")


def test_predictor_checks_the_checksum_of_what_it_reads(bundle: Path) -> None:
    flip_byte(bundle / TORCHSCRIPT_MODEL, 100)  # not read by the ONNX predictor: caught by verify
    Predictor.load(bundle)
    flip_byte(bundle / ONNX_MODEL, 100)
    with pytest.raises(ReviewclfError, match="checksum mismatch for model.onnx"):
        Predictor.load(bundle)


def test_archive_and_directory_forms_read_the_same(demo_bundle: Path, tmp_path: Path) -> None:
    archive = zip_bundle(demo_bundle, tmp_path / "bundle.zip")
    from_dir, from_zip = load_bundle(demo_bundle), load_bundle(archive)
    assert from_zip.manifest == from_dir.manifest
    assert from_zip.names == from_dir.names
    assert all(from_zip.read(name) == from_dir.read(name) for name in from_dir.names)
    a, b = Predictor.load(demo_bundle), Predictor.load(archive)
    np.testing.assert_array_equal(a.predict_proba(TEXTS), b.predict_proba(TEXTS))
    assert [p.label for p in a.predict(TEXTS)] == [p.label for p in b.predict(TEXTS)]


def test_verify_passes_on_the_archive_form(demo_bundle: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["verify", str(zip_bundle(demo_bundle, tmp_path / "bundle.zip"))])
    assert result.exit_code == 0, result.output
    assert "verified" in result.stdout


# ---------------------------------------------------------------------------------------------- ids


def test_ids_outside_the_vocabulary_are_refused(demo_bundle: Path) -> None:
    """ORT's Gather accepts -1 (it counts from the end), so the runtime must check ids itself."""
    predictor = Predictor.load(demo_bundle)
    vocab = predictor.vocab_size
    assert vocab == predictor.bundle.manifest["input"]["vocab_size"]
    for bad in ([[5, -1, 0]], [[vocab]], [[2, vocab + 100]], [[-(2**40)]]):
        with pytest.raises(ReviewclfError) as refused:
            predictor.proba_from_ids(np.array(bad, dtype=np.int64))
        assert f"[0, {vocab})" in str(refused.value) and "\n" not in str(refused.value)
    edge = predictor.proba_from_ids(np.array([[vocab - 1, 0], [0, 0]], dtype=np.int64))
    assert edge.shape == (2, 2) and np.isfinite(edge).all()


@pytest.mark.parametrize("shape", [(3,), (2, 0), (1, 2, 3)])
def test_ids_that_are_not_a_matrix_are_refused(demo_bundle: Path, shape: tuple[int, ...]) -> None:
    with pytest.raises(ReviewclfError, match="matrix"):
        Predictor.load(demo_bundle).proba_from_ids(np.zeros(shape, dtype=np.int64))


def test_int8_needs_the_int8_model(demo_bundle: Path, bundle: Path) -> None:
    assert Predictor.load(demo_bundle, int8=True).predict_proba(TEXTS).shape == (len(TEXTS), 2)
    (bundle / "model.int8.onnx").unlink()
    edit_manifest(bundle, lambda m: m["files"].pop("model.int8.onnx"))
    with pytest.raises(ReviewclfError, match="--quantize"):
        Predictor.load(bundle, int8=True)


@pytest.mark.parametrize(
    ("change", "word"),
    [
        (lambda m: m.pop("labels"), "labels"),
        (lambda m: m.update(labels=["only-one"]), "labels"),
        (lambda m: m.update(decision={"type": "vote"}), "decision"),
        (lambda m: m["input"].pop("vocab_size"), "vocab_size"),
        (lambda m: m["files"].update({"model.onnx": "not an object"}), "'files' must be"),
    ],
)
def test_manifest_with_damaged_fields_is_one_clear_error(bundle: Path, change: Callable[[dict], None],
                                                        word: str) -> None:
    edit_manifest(bundle, change)
    assert_refused(bundle, word)


def test_read_or_path_gives_a_path_on_disk_and_the_bytes_inside_an_archive(bundle: Path, tmp_path: Path) -> None:
    data = (bundle / ONNX_MODEL).read_bytes()
    assert load_bundle(bundle).read_or_path(ONNX_MODEL) == str(bundle / ONNX_MODEL)
    assert load_bundle(zip_bundle(bundle, tmp_path / "b.zip")).read_or_path(ONNX_MODEL) == data
    loaded = load_bundle(bundle)
    flip_byte(bundle / ONNX_MODEL, len(data) - 1)  # the last chunk
    with pytest.raises(ReviewclfError, match="checksum mismatch for model.onnx"):
        loaded.read_or_path(ONNX_MODEL)
