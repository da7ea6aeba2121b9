"""Preparing a run's data through the cache: a second run on the same data and tokenizer options opens the
stored encoding instead of reading and tokenizing again; any change to the data or to those options, or
``--no-cache``, encodes again."""

from __future__ import annotations

import pytest

from reviewclf.training.config import TrainConfig
from reviewclf.training.run import train_run
from tests.support import DATA

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CACHED = "from the cache"


@pytest.fixture
def reviews(tmp_path, monkeypatch):
    monkeypatch.setenv("REVIEWCLF_CACHE_DIR", str(tmp_path / "cache"))
    lines = (DATA / "uci-sentences" / "yelp_labelled.txt").read_text(encoding="utf-8").splitlines()[:400]
    path = tmp_path / "reviews.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(reviews, out, **options):
    lines: list[str] = []
    config = TrainConfig(data=[str(reviews)], format="tabbed", epochs=2, device="cpu", out=str(out), **options)
    outcome = train_run(config, log=lines.append)
    return outcome, "\n".join(lines)


def stores(tmp_path):
    return sorted(p.name for p in (tmp_path / "cache" / "token-stores").iterdir() if not p.name.startswith("."))


def test_a_second_run_on_the_same_data_uses_the_cached_encoding(reviews, tmp_path):
    first, log = run(reviews, tmp_path / "a")
    assert CACHED not in log and "rows: train" in log
    # another model and its settings on the same tokenizer options (the perceptron's own default cut-off is 2)
    second, log = run(reviews, tmp_path / "b", model="perceptron", lr=0.01, min_freq=1)
    assert CACHED in log and "rows: train" not in log  # the data was not read again
    assert second.tokenizer_json == first.tokenizer_json
    assert second.metrics["rows"] == first.metrics["rows"] == {"train": 280, "val": 60, "test": 60}
    again, _ = run(reviews, tmp_path / "c")
    assert again.metrics["test"] == first.metrics["test"]  # same model, same data: the same result from the cache
    assert len(stores(tmp_path)) == 1


def test_changed_data_or_tokenizer_options_encode_again(reviews, tmp_path):
    run(reviews, tmp_path / "a")
    _, log = run(reviews, tmp_path / "b", min_freq=3)
    assert CACHED not in log
    _, log = run(reviews, tmp_path / "c", max_length=8)
    assert CACHED not in log
    with reviews.open("a", encoding="utf-8") as more:
        more.write("An extra review that was not there before.\t1\n")
    changed, log = run(reviews, tmp_path / "d")
    assert CACHED not in log and sum(changed.metrics["rows"].values()) == 401
    assert len(stores(tmp_path)) == 4


def test_no_cache_neither_reads_nor_writes_the_cache(reviews, tmp_path):
    run(reviews, tmp_path / "first", cache=False)
    assert not (tmp_path / "cache").exists()
    run(reviews, tmp_path / "a")
    _, log = run(reviews, tmp_path / "b", cache=False)
    assert CACHED not in log and "rows: train" in log
    assert len(stores(tmp_path)) == 1
    _, log = run(reviews, tmp_path / "c", model="ngram", cache=False)
    assert CACHED not in log
