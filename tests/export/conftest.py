"""The export tests' fixtures: real reviews, and every model kind trained and exported once per session (the
exports are the expensive part, and several test modules read them)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from reviewclf.export.graph import eager_runner, load_run_model
from reviewclf.export.torchscript import load_scripted, run_scripted
from reviewclf.io.labeled import LabeledData, read_labeled
from reviewclf.runtime.bundle import TORCHSCRIPT_MODEL, load_bundle
from reviewclf.runtime.predictor import Predictor
from tests.export.cases import KINDS, STARS_TO_3, Case, imdb_reviews
from tests.support import make_bundle, make_run


@pytest.fixture(scope="session")
def yelp(data_dir: Path) -> LabeledData:
    return read_labeled(data_dir / "yelp-10k" / "yelp.csv.zip", text_column="text", label_column="stars")


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def three_label_tsv(yelp: LabeledData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,500 Yelp reviews as a header TSV with three labels (1-2 negative, 3 neutral, 4-5 positive)."""
    path = tmp_path_factory.mktemp("data") / "three.tsv"
    rows = ["text\tlabel"] + [" ".join(t.split()) + "\t" + STARS_TO_3[s]
                              for t, s in zip(yelp.texts[:1500], yelp.labels[:1500])]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def demo_archive(demo_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo run exported as one zip file, with model.pt2."""
    return make_bundle(demo_run, tmp_path_factory.mktemp("archive") / "perceptron.zip", archive=True, program=True)


@pytest.fixture(scope="session", params=KINDS)
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
