"""Export: every model kind becomes a bundle whose eager, TorchScript, torch.export and ONNX Runtime forms agree
(the equivalence contract in DESIGN.md), on real reviews and edge cases, whatever batch a text is in; a failed
export leaves nothing; --force, --archive, --quantize and the export/info/verify commands do what they say."""

from __future__ import annotations

import json
import random
import shutil
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewclf.cli import main
from reviewclf.errors import ReviewclfError
from reviewclf.export import bundle_writer
from reviewclf.export.equivalence import BATCH_SIZES, TOLERANCE, batched, edge_cases
from reviewclf.export.graph import ProbabilityModel, eager_runner, load_run_model
from reviewclf.export.program import load_program
from reviewclf.export.torchscript import load_scripted, run_scripted
from reviewclf.io.labeled import LabeledData, read_labeled
from reviewclf.runtime.bundle import (
    EXPORTED_PROGRAM,
    MANIFEST,
    ONNX_INT8_MODEL,
    ONNX_MODEL,
    TORCHSCRIPT_MODEL,
    load_bundle,
)
from reviewclf.runtime.predictor import Predictor
from tests.support import make_bundle, make_run

Runner = Callable[[np.ndarray], np.ndarray]
KINDS = ("perceptron", "mlp", "ngram", "three-label")
STARS_TO_3 = {"1": "negative", "2": "negative", "3": "neutral", "4": "positive", "5": "positive"}


# ---------------------------------------------------------------------------------------------- data


@pytest.fixture(scope="session")
def yelp(data_dir: Path) -> LabeledData:
    return read_labeled(data_dir / "yelp-10k" / "yelp.csv.zip", text_column="text", label_column="stars")


def imdb_reviews(data_dir: Path, n: int) -> list[str]:
    """The first ``n`` IMDB reviews with HTML line breaks, streamed from the tarball (no full read)."""
    found: list[str] = []
    with tarfile.open(data_dir / "imdb" / "aclImdb.tar.gz") as archive:
        for member in archive:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 4 and parts[2] in ("pos", "neg"):
                text = archive.extractfile(member).read().decode("utf-8")  # type: ignore[union-attr]
                if "<br />" in text:
                    found.append(text)
                    if len(found) == n:
                        break
    return found


@pytest.fixture(scope="module")
def real_reviews(yelp: LabeledData, data_dir: Path) -> list[str]:
    """Yelp reviews (long, many past max length 64), IMDB with <br />, rt-polarity decoded as Latin-1, and
    UTF-8 reviews read as Latin-1 (mojibake)."""
    rt = data_dir / "rt-polarity"
    polarity: list[str] = []
    for suffix in ("neg", "pos"):
        lines = (rt / f"rt-polarity.{suffix}").read_bytes().decode("latin-1").splitlines()
        polarity += lines[:15] + [line for line in lines if not line.isascii()][:15]
    mojibake = [t.encode("utf-8").decode("latin-1") for t in yelp.texts[300:2000] if not t.isascii()][:20]
    texts = yelp.texts[:300] + imdb_reviews(data_dir, 30) + polarity + mojibake
    assert len(mojibake) == 20 and any(not t.isascii() for t in polarity)
    return texts


@pytest.fixture(scope="module")
def three_label_tsv(yelp: LabeledData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,500 Yelp reviews as a header TSV with three labels (1-2 negative, 3 neutral, 4-5 positive)."""
    path = tmp_path_factory.mktemp("data") / "three.tsv"
    rows = ["text\tlabel"] + [" ".join(t.split()) + "\t" + STARS_TO_3[s]
                              for t, s in zip(yelp.texts[:1500], yelp.labels[:1500])]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------- exported models


@dataclass
class Case:
    kind: str
    run_dir: Path
    bundle: Path  # a directory bundle
    program_bundle: Path  # a bundle with model.pt2 (the directory itself, or the perceptron's archive)
    eager: Runner
    torchscript: Runner
    predictor: Predictor

    @property
    def max_length(self) -> int | None:
        return self.predictor.max_length


@pytest.fixture(scope="module")
def demo_archive(demo_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo run exported as one zip file, with model.pt2."""
    return make_bundle(demo_run, tmp_path_factory.mktemp("archive") / "perceptron.zip", archive=True, program=True)


@pytest.fixture(scope="module", params=KINDS)
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Case:
    kind = request.param
    if kind == "perceptron":
        run_dir, bundle = request.getfixturevalue("demo_run"), request.getfixturevalue("demo_bundle")
        program_bundle = request.getfixturevalue("demo_archive")
    else:
        root = tmp_path_factory.mktemp(kind)
        if kind == "three-label":
            tsv = request.getfixturevalue("three_label_tsv")
            run_dir = make_run(root / "run", model="mlp", data=[str(tsv)], max_length=64, epochs=2)
        elif kind == "ngram":
            run_dir = make_run(root / "run", model="ngram", epochs=2, buckets=1024, max_length=96)
        else:
            run_dir = make_run(root / "run", model="mlp", epochs=2, max_length=256)
        bundle = program_bundle = make_bundle(run_dir, root / "bundle", program=True)
    model = load_run_model(run_dir)
    scripted = load_scripted(load_bundle(bundle).read(TORCHSCRIPT_MODEL))
    return Case(kind, run_dir, bundle, program_bundle, eager_runner(model),
                lambda ids: run_scripted(scripted, torch.from_numpy(ids)).numpy(), Predictor.load(bundle))


def alone(texts: list[str], case: Case) -> np.ndarray:
    """Eager probabilities of each text computed on its own (batch of one, no padding): the reference."""
    return batched(texts, 1, case.predictor.encoder, case.eager)


def backends(case: Case) -> dict[str, Runner]:
    return {"eager": case.eager, "torchscript": case.torchscript, "onnxruntime": case.predictor.proba_from_ids}


def max_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.abs(a - b).max(initial=0.0))


def test_bundle_loads_through_every_runtime(case: Case) -> None:
    manifest = case.predictor.bundle.manifest
    run_info = json.loads((case.run_dir / "model.json").read_text(encoding="utf-8"))
    assert case.predictor.labels == run_info["labels"] == manifest["output"]["columns"]
    assert manifest["model"]["kind"] == run_info["kind"]
    assert manifest["equivalence"]["passed"] is True
    expected_rule = "threshold" if len(case.predictor.labels) == 2 else "argmax"
    assert manifest["decision"]["type"] == expected_rule
    if case.kind == "three-label":
        assert case.predictor.labels == ["negative", "neutral", "positive"] and case.max_length == 64
    probs = case.predictor.predict_proba(["great food", "awful service"])
    assert probs.shape == (2, len(case.predictor.labels)) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_backends_agree_on_real_reviews_and_edge_cases_at_every_batch_size(
    case: Case, real_reviews: list[str]
) -> None:
    texts = real_reviews + edge_cases(case.max_length)
    reference = alone(texts, case)
    ref_labels = case.predictor.decision.choose(reference)
    encoder = case.predictor.encoder
    worst: dict[str, float] = {}
    for name, run in backends(case).items():
        for size in BATCH_SIZES:
            if name == "eager" and size == 1:
                continue  # that is the reference itself
            probs = batched(texts, size, encoder, run)
            worst[f"{name}@{size}"] = max_diff(probs, reference)
            assert np.array_equal(case.predictor.decision.choose(probs), ref_labels), f"{name}@{size}"
    for size in (7, 512):  # the runtime's own path: sorted by length inside windows, padded per batch
        probs = case.predictor.predict_proba(texts, batch_size=size)
        worst[f"predict_proba@{size}"] = max_diff(probs, reference)
        assert np.array_equal(case.predictor.decision.choose(probs), ref_labels)
    assert max(worst.values()) <= TOLERANCE, worst
    # the texts exercise what they should: truncation at max length and more than one label chosen
    assert max(len(r) for r in encoder.encode_ragged(texts)) == case.max_length
    assert len(set(ref_labels.tolist())) > 1


def test_probabilities_do_not_depend_on_the_batch(case: Case, real_reviews: list[str]) -> None:
    """Each text alone vs. inside shuffled batches of random sizes (so of mixed lengths and padding)."""
    texts = real_reviews[::3] + edge_cases(case.max_length)
    reference = alone(texts, case)
    rng = random.Random(7)
    order = list(range(len(texts)))
    rng.shuffle(order)
    encoder = case.predictor.encoder
    for name, run in backends(case).items():
        out = np.empty_like(reference)
        start, widths = 0, set()
        while start < len(order):
            chunk = order[start : start + rng.randint(1, 12)]
            ids = encoder.encode([texts[i] for i in chunk])
            widths.add(ids.shape[1])
            out[chunk] = run(ids)
            start += len(chunk)
        assert len(widths) > 1
        assert max_diff(out, reference) <= TOLERANCE, name
    # one text padded out to the longest row of the batch it shares with a long review
    short, long = "great", real_reviews[0]
    together = case.predictor.proba_from_ids(encoder.encode([short, long]))
    np.testing.assert_allclose(together, alone([short, long], case), rtol=0, atol=TOLERANCE)


def test_exported_program_agrees_with_eager(case: Case, real_reviews: list[str]) -> None:
    bundle = load_bundle(case.program_bundle)
    assert EXPORTED_PROGRAM in bundle.names
    program = load_program(bundle.read(EXPORTED_PROGRAM))

    def run(ids: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return program(torch.from_numpy(ids)).numpy()

    texts = real_reviews[::4] + edge_cases(case.max_length)
    reference = alone(texts, case)
    for size in BATCH_SIZES:
        probs = batched(texts, size, case.predictor.encoder, run)
        assert max_diff(probs, reference) <= TOLERANCE, size
        assert np.array_equal(case.predictor.decision.choose(probs), case.predictor.decision.choose(reference))


@st.composite
def texts_and_splits(draw: st.DrawFn) -> tuple[list[str], list[int]]:
    pieces = st.one_of(st.text(max_size=40), st.sampled_from(["great", "bad", "food", " ", "\n", "<br />", "😀",
                                                              "très", "非常", "\x00", "Ã©"]))
    texts = draw(st.lists(st.lists(pieces, max_size=8).map("".join), min_size=1, max_size=16))
    sizes = draw(st.lists(st.integers(1, len(texts)), min_size=1, max_size=len(texts)))
    return texts, sizes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=texts_and_splits())
def test_random_unicode_texts_agree_and_are_batch_invariant(case: Case, drawn: tuple[list[str], list[int]]) -> None:
    texts, sizes = drawn
    reference = alone(texts, case)
    parts, start, k = [], 0, 0
    while start < len(texts):
        size = sizes[k % len(sizes)]
        parts.append(case.predictor.proba_from_ids(case.predictor.encoder.encode(texts[start : start + size])))
        start, k = start + size, k + 1
    split = np.concatenate(parts)
    assert max_diff(split, reference) <= TOLERANCE
    whole = case.predictor.predict_proba(texts, batch_size=max(sizes))
    assert max_diff(whole, reference) <= TOLERANCE
    assert np.array_equal(case.predictor.decision.choose(split), case.predictor.decision.choose(reference))


# ------------------------------------------------------------------------------------------- writing


def leftovers(parent: Path, keep: tuple[str, ...] = ()) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name not in keep)


def test_failed_write_propagates_and_leaves_nothing(demo_run: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[str] = []
    real_write = bundle_writer.write_file

    def fail_after_first(folder: Path, name: str, data: bytes) -> None:
        if written:
            raise OSError("disk full (simulated)")
        real_write(folder, name, data)
        written.append(name)

    monkeypatch.setattr(bundle_writer, "write_file", fail_after_first)
    parent = tmp_path / "out"
    parent.mkdir()
    with pytest.raises(OSError, match="simulated"):
        make_bundle(demo_run, parent / "bundle")
    assert len(written) == 1  # one file really was written before the failure
    assert not (parent / "bundle").exists()
    assert leftovers(parent) == []


def test_failed_export_with_force_keeps_the_old_bundle(demo_run: Path, demo_bundle: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "bundle"
    shutil.copytree(demo_bundle, target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def fail(folder: Path, name: str, data: bytes) -> None:
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(bundle_writer, "write_file", fail)
    with pytest.raises(OSError):
        make_bundle(demo_run, target, force=True)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert leftovers(tmp_path) == ["bundle"]


def test_export_whose_equivalence_check_fails_leaves_nothing(demo_run: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A perturbed ONNX graph (weights shifted after export) must be caught by the real equivalence check."""
    import onnx
    from onnx import numpy_helper

    real_export = bundle_writer.export_onnx

    def perturbed(model: ProbabilityModel) -> bytes:
        proto = onnx.load_from_string(real_export(model))
        biggest = max(proto.graph.initializer, key=lambda t: int(np.prod(t.dims)))
        shifted = numpy_helper.to_array(biggest) + np.float32(0.25)
        biggest.CopyFrom(numpy_helper.from_array(shifted, biggest.name))
        return proto.SerializeToString()

    monkeypatch.setattr(bundle_writer, "export_onnx", perturbed)
    parent = tmp_path / "out"
    with pytest.raises(ReviewclfError, match="verification failed"):
        make_bundle(demo_run, parent / "bundle")
    assert not (parent / "bundle").exists()
    assert leftovers(parent) == []


def test_force_is_needed_to_replace_a_bundle(demo_run: Path, demo_bundle: Path, tmp_path: Path) -> None:
    target = tmp_path / "bundle"
    shutil.copytree(demo_bundle, target)
    (target / "stale.txt").write_text("from an older export")
    with pytest.raises(ReviewclfError) as refused:
        make_bundle(demo_run, target)
    assert "--force" in str(refused.value) and "\n" not in str(refused.value)
    assert (target / "stale.txt").exists()
    make_bundle(demo_run, target, force=True)
    assert not (target / "stale.txt").exists()
    assert load_bundle(target).manifest["model"]["kind"] == "perceptron"
    assert leftovers(tmp_path) == ["bundle"]


def test_archive_is_one_zip_with_the_same_predictions(demo_archive: Path, demo_bundle: Path,
                                                      real_reviews: list[str]) -> None:
    assert demo_archive.is_file() and zipfile.is_zipfile(demo_archive)
    assert leftovers(demo_archive.parent) == [demo_archive.name]
    with zipfile.ZipFile(demo_archive) as archive:
        names = archive.namelist()
    assert MANIFEST in names and ONNX_MODEL in names and all("/" not in n for n in names)
    from_zip, from_dir = Predictor.load(demo_archive), Predictor.load(demo_bundle)
    assert from_zip.labels == from_dir.labels
    np.testing.assert_array_equal(from_zip.predict_proba(real_reviews), from_dir.predict_proba(real_reviews))


def test_int8_model_agrees_with_fp32_labels(demo_bundle: Path, yelp: LabeledData) -> None:
    manifest = load_bundle(demo_bundle).manifest
    assert ONNX_INT8_MODEL in manifest["files"] and manifest["model"]["int8"] is True
    assert manifest["equivalence"]["int8_label_agreement"] >= bundle_writer.INT8_MIN_AGREEMENT
    texts = yelp.texts[:1000]
    fp32, int8 = Predictor.load(demo_bundle), Predictor.load(demo_bundle, int8=True)
    a = fp32.decision.choose(fp32.predict_proba(texts))
    b = int8.decision.choose(int8.predict_proba(texts))
    agreement = float((a == b).mean())
    assert agreement >= 0.995, agreement


# ----------------------------------------------------------------------------------------------- CLI


def test_cli_export_info_and_verify(demo_run: Path, demo_bundle: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli-bundle"
    result = runner.invoke(main, ["export", str(demo_run), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "bundle written" in result.stdout
    assert load_bundle(out).manifest["equivalence"]["passed"] is True

    result = runner.invoke(main, ["info", str(demo_bundle)])
    assert result.exit_code == 0, result.output
    manifest = load_bundle(demo_bundle).manifest
    assert "negative, positive" in result.stdout and "perceptron" in result.stdout
    for name, entry in manifest["files"].items():
        assert name in result.stdout and f"{entry['bytes']:,} bytes" in result.stdout

    result = runner.invoke(main, ["info", "--json", str(demo_bundle)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == manifest

    result = runner.invoke(main, ["verify", str(demo_bundle)])
    assert result.exit_code == 0, result.output
    assert "verified" in result.stdout and "checksums ok" in result.stdout


def test_force_never_replaces_something_that_is_not_a_bundle(demo_run: Path, tmp_path: Path) -> None:
    precious = tmp_path / "project"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(ReviewclfError, match="not a bundle"):
        make_bundle(demo_run, precious, force=True)
    assert (precious / "thesis.tex").read_text() == "years of work"
    assert leftovers(tmp_path) == ["project"]


def test_quiet_exporters_gives_the_callers_logging_levels_back() -> None:
    import logging

    from reviewclf.export.bundle_writer import quiet_exporters

    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.INFO)
    try:
        with quiet_exporters():
            assert root.level == logging.ERROR
        assert root.level == logging.INFO
    finally:
        root.setLevel(before)
