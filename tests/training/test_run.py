"""One training run from review files to a run directory, and ``reviewclf train`` end to end on real review files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import reviewclf.training.loop as loop
from reviewclf.cli import main
from reviewclf.errors import ReviewclfError
from reviewclf.io.label_map import parse_label_map
from reviewclf.io.labeled import read_labeled, read_many
from reviewclf.metrics import classification_report
from reviewclf.runtime.encoding import UNK_TOKEN, TextEncoder
from reviewclf.training import plots
from reviewclf.training.config import TrainConfig
from reviewclf.training.encoded_set import EncodedSet
from reviewclf.training.loop import evaluate_logits
from reviewclf.training.prepare import HELDOUT_SAMPLE
from reviewclf.training.run import DEMO_LABEL_MAP, demo_paths, fit_once, train_run, write_run
from reviewclf.training.splits import stratified_split
from reviewclf.training.vocabulary import fit_encoder
from tests.support import UCI_MAP, YELP_STARS
from tests.training.support import CPU, load_run_model, quiet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_cross_validation_run_on_the_demo_data(tmp_path):
    out = tmp_path / "cv"
    result = CliRunner().invoke(main, ["train", "--model", "mlp", "--folds", "3", "--epochs", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    cv = json.loads((out / "metrics.json").read_text())["cross_validation"]
    assert cv["folds"] == 3
    for name in ("accuracy", "macro_f1"):
        per_fold = cv["per_fold"][name]
        assert len(per_fold) == 3
        assert all(0.5 < v <= 1.0 for v in per_fold)  # balanced binary data: better than chance
        assert cv[f"{name}_mean"] == pytest.approx(np.mean(per_fold))
        assert cv[f"{name}_std"] == pytest.approx(np.std(per_fold))
    assert f"3-fold CV accuracy {cv['accuracy_mean']:.4f} ± {cv['accuracy_std']:.4f}" in result.stdout


def test_tokenizer_is_fitted_on_the_training_split_only():
    rng = np.random.default_rng(0)
    words = ["good", "bad", "food", "service", "place"]
    train = [" ".join(rng.choice(words, 4)) for _ in range(20)]
    labels = ["negative", "positive"] * 10
    held = ["zebra food", "zebra zebra good", "bad zebra"]
    outcome = fit_once(TrainConfig(epochs=1, min_freq=1), train, labels, held, labels[:3], held, labels[:3], quiet)
    encoder = TextEncoder.from_str(outcome.tokenizer_json)
    assert encoder.tokenizer.token_to_id("zebra") is None
    assert encoder.tokenizer.token_to_id("food") is not None
    assert encoder.encode_ragged(["zebra"]) == [[encoder.tokenizer.token_to_id(UNK_TOKEN)]]
    assert outcome.model_info["vocab_size"] == encoder.vocab_size == 2 + len(words)


def test_the_demo_run_tokenizer_is_the_one_fitted_on_its_train_split(demo_run):
    config = TrainConfig.from_dict(json.loads((demo_run / "config.json").read_text()))
    data = read_many(config.data, format="tabbed", label_map=parse_label_map(DEMO_LABEL_MAP))
    parts = stratified_split(data.labels, config.val_fraction, config.test_fraction, config.seed)
    refit = fit_encoder([data.texts[i] for i in parts["train"]], config.min_freq, config.max_length)
    assert json.loads(refit.to_str()) == json.loads((demo_run / "tokenizer.json").read_text())


@pytest.fixture(scope="module")
def yelp_stars_run(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("stars") / "run"
    config = TrainConfig(data=[str(data_dir / "yelp-10k" / "yelp.csv.zip")], text_column="text",
                         label_column="stars", max_length=64, min_freq=5, epochs=2, out=str(out))
    return train_run(config, log=quiet), out


def test_multi_class_run_on_yelp_stars(yelp_stars_run):
    outcome, out = yelp_stars_run
    metrics = json.loads((out / "metrics.json").read_text())
    model_info = json.loads((out / "model.json").read_text())
    assert model_info["labels"] == sorted(YELP_STARS) and model_info["n_outputs"] == 5
    assert sum(metrics["rows"].values()) == sum(YELP_STARS.values())
    for split in ("val", "test"):
        report = metrics[split]
        assert report["labels"] == sorted(YELP_STARS)
        matrix = np.array(report["confusion_matrix"])
        assert matrix.shape == (5, 5) and matrix.sum() == report["n"] == metrics["rows"][split]
        for label, count in YELP_STARS.items():
            assert abs(report["per_label"][label]["support"] - 0.15 * count) <= 1  # stratified
        assert report["accuracy"] > max(YELP_STARS.values()) / sum(YELP_STARS.values())  # beats the majority


def test_multi_class_probabilities_are_a_softmax(yelp_stars_run):
    outcome, out = yelp_stars_run
    model = load_run_model(out)
    encoder = TextEncoder.from_file(out / "tokenizer.json")
    texts = json.loads((out / "heldout.json").read_text())["texts"][:64]
    ids = torch.from_numpy(encoder.encode(texts))
    with torch.no_grad():
        probs = model.probabilities(ids)
        logits = model(ids)
    assert probs.shape == (64, 5)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(64), atol=1e-6, rtol=0)
    torch.testing.assert_close(probs, torch.softmax(logits, dim=1))
    assert len(set(probs.argmax(dim=1).tolist())) > 1
    # the multi-class loss is the cross-entropy of those probabilities
    targets = torch.randint(0, 5, (64,))
    expected = -torch.log(probs[torch.arange(64), targets]).mean()
    assert float(loop.loss_fn(logits, targets)) == pytest.approx(float(expected), rel=1e-5)


def test_checkpoint_reproduces_the_test_metrics(demo_run):
    """Reload checkpoint + tokenizer, rebuild the test split, and get exactly the recorded report."""
    config = TrainConfig.from_dict(json.loads((demo_run / "config.json").read_text()))
    model = load_run_model(demo_run)
    labels = json.loads((demo_run / "model.json").read_text())["labels"]
    data = read_many(config.data, format="tabbed", label_map=parse_label_map(DEMO_LABEL_MAP))
    rows = stratified_split(data.labels, config.val_fraction, config.test_fraction, config.seed)["test"]
    encoder = TextEncoder.from_file(demo_run / "tokenizer.json")
    test = EncodedSet.build(encoder.encode_flat([data.texts[i] for i in rows]),
                            np.array([labels.index(data.labels[i]) for i in rows]), CPU)
    logits = evaluate_logits(model, test, config.batch_size * 4)
    report = classification_report(test.targets.numpy(), (logits[:, 0] >= 0).long().numpy(), labels)
    assert report == json.loads((demo_run / "metrics.json").read_text())["test"]
    heldout = json.loads((demo_run / "heldout.json").read_text())["texts"]
    assert heldout == [data.texts[i] for i in rows][:HELDOUT_SAMPLE]


@pytest.fixture(scope="module")
def test_data_run(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("testdata") / "run"
    uci = data_dir / "uci-sentences"
    config = TrainConfig(data=[str(uci / "amazon_cells_labelled.txt")], test_data=[str(uci / "imdb_labelled.txt")],
                         label_map=UCI_MAP, epochs=2, lr=0.01, out=str(out))
    return config, train_run(config, log=quiet), out


def test_separate_test_data_is_the_test_split(test_data_run, data_dir):
    config, outcome, out = test_data_run
    test_file = read_labeled(data_dir / "uci-sentences" / "imdb_labelled.txt", label_map=parse_label_map(UCI_MAP))
    n_lines = len((data_dir / "uci-sentences" / "amazon_cells_labelled.txt").read_text().splitlines())
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["rows"]["test"] == metrics["test"]["n"] == len(test_file.texts)
    assert metrics["rows"]["train"] + metrics["rows"]["val"] == n_lines  # no test rows taken from the data
    assert abs(metrics["rows"]["val"] - config.val_fraction * n_lines) <= 2
    heldout = json.loads((out / "heldout.json").read_text())["texts"]
    assert heldout == test_file.texts[:HELDOUT_SAMPLE]


def test_checkpoint_loads_into_a_fresh_model_with_identical_outputs(test_data_run):
    _, outcome, out = test_data_run
    fresh = load_run_model(out)
    assert type(fresh) is type(outcome.model)
    encoder = TextEncoder.from_file(out / "tokenizer.json")
    texts = json.loads((out / "heldout.json").read_text())["texts"][:100] + ["", "zebra zebra", "great phone!"]
    ids = torch.from_numpy(encoder.encode(texts))
    with torch.no_grad():
        assert torch.equal(fresh(ids), outcome.model.eval()(ids))
        assert torch.equal(fresh.probabilities(ids), outcome.model.probabilities(ids))


def test_an_existing_run_directory_needs_force(test_data_run, tmp_path):
    config, outcome, _ = test_data_run
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ReviewclfError, match="already exists; pass --force"):
        train_run(TrainConfig(**{**config.to_dict(), "out": str(out)}), log=quiet)
    with pytest.raises(ReviewclfError, match="already exists"):
        write_run(out, config, outcome, force=False)
    assert (out / "notes.txt").read_text() == "keep me"
    write_run(out, config, outcome, force=True)
    assert not (out / "notes.txt").exists() and (out / "checkpoint.pt").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    write_run(empty, config, outcome, force=False)  # an empty directory is fine
    assert (empty / "metrics.json").exists()


def test_a_failure_while_writing_leaves_no_run_directory(test_data_run, tmp_path, monkeypatch):
    config, outcome, _ = test_data_run

    def broken(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(plots, "plot_confusion", broken)
    out = tmp_path / "runs" / "new"
    with pytest.raises(RuntimeError, match="disk full"):
        write_run(out, config, outcome, force=False)
    assert not out.exists()
    assert list((tmp_path / "runs").iterdir()) == []  # no half-written temporary directory either
    old = tmp_path / "runs" / "old"
    old.mkdir()
    (old / "checkpoint.pt").write_text("the previous run")
    with pytest.raises(RuntimeError, match="disk full"):
        write_run(old, config, outcome, force=True)
    assert (old / "checkpoint.pt").read_text() == "the previous run"  # replaced only once fully written
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["old"]




def test_balanced_class_weights_raise_macro_f1_on_a_skewed_set():
    """The demo sentences with three of four negative ones dropped (3:1, Yelp polarity's skew)."""
    data = read_many(demo_paths(), format="tabbed", label_map=parse_label_map(DEMO_LABEL_MAP))
    rng = np.random.default_rng(0)
    keep = [i for i, label in enumerate(data.labels) if label == "positive" or rng.random() < 0.25]
    texts, labels = [data.texts[i] for i in keep], [data.labels[i] for i in keep]
    parts = stratified_split(labels, 0.15, 0.3, 1337)
    splits = [[seq[i] for i in parts[name]] for name in ("train", "val", "test") for seq in (texts, labels)]
    scores = {}
    for weighting in ("none", "balanced"):
        config = TrainConfig(class_weight=weighting, lr=0.01, batch_size=64, epochs=20)
        scores[weighting] = fit_once(config, *splits, quiet).metrics["test"]
    assert scores["balanced"]["macro_f1"] > scores["none"]["macro_f1"] + 0.03
    recall = {w: scores[w]["per_label"]["negative"]["recall"] for w in scores}
    assert recall["balanced"] > recall["none"]  # the rare class is found more often


def test_ngram_fit_scales_its_features_with_the_configured_nb_smoothing(monkeypatch):
    """``--nb-smoothing`` reaches the naive-Bayes initialisation, which ``--no-nb-init`` skips (what smoothing
    does to the ratios: tests/training/test_models.py)."""
    import reviewclf.training.run as run

    seen = []
    real = run.init_from_naive_bayes

    def spy(model, data, smoothing, prior):
        seen.append(smoothing)
        real(model, data, smoothing, prior)

    monkeypatch.setattr(run, "init_from_naive_bayes", spy)
    data = read_many(demo_paths(), format="tabbed", label_map=parse_label_map(DEMO_LABEL_MAP))
    texts, labels = data.texts[:300], data.labels[:300]
    for smoothing in (1.0, 20.0):
        config = TrainConfig(model="ngram", nb_smoothing=smoothing, buckets=256, epochs=1, device="cpu")
        fit_once(config, texts, labels, texts[:20], labels[:20], texts[:20], labels[:20], quiet)
    assert seen == [1.0, 20.0]
    config = TrainConfig(model="ngram", nb_init=False, buckets=256, epochs=1, device="cpu")
    fit_once(config, texts, labels, texts[:20], labels[:20], texts[:20], labels[:20], quiet)
    assert seen == [1.0, 20.0]
