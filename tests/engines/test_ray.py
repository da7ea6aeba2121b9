"""``reviewclf.ray.BundlePredictor`` in Ray Data map_batches on local Ray, on real Yelp reviews: the same labels
and probabilities as the in-process Predictor, rows in order with their other columns, and a bad bundle
failing the task with the runtime's one-line error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.engines.conftest import WORKERS, chosen_labels

pytest.importorskip("ray")
from reviewclf.ray import BundlePredictor  # noqa: E402

BLOCK_ROWS = 250


def dataset(ray: Any, reviews: Any) -> Any:
    """Several blocks, so that both actors get work."""
    return ray.data.from_pandas([reviews.iloc[i : i + BLOCK_ROWS] for i in range(0, len(reviews), BLOCK_ROWS)])


def scored(ray: Any, ds: Any, actors: int, **constructor: object) -> Any:
    return ds.map_batches(BundlePredictor, fn_constructor_kwargs=constructor, batch_format="pandas",
                          compute=ray.data.ActorPoolStrategy(size=actors)).to_pandas()


def test_bundle_predictor_matches_the_predictor(ray_local: Any, demo_bundle: Path, reviews: Any, in_process: Any):
    labeled = reviews.assign(label="gold")  # the data's own label column is kept as input_label
    result = scored(ray_local, dataset(ray_local, labeled), WORKERS, bundle=str(demo_bundle), text_column="text",
                    all_probs=True)
    assert result.columns.tolist() == ["id", "stars", "text", "input_label", "label", "probability", "p_negative",
                                       "p_positive"]
    assert result["id"].tolist() == reviews["id"].tolist()  # input order
    assert result["stars"].tolist() == reviews["stars"].tolist() and result["text"].tolist() == reviews["text"].tolist()
    assert set(result["input_label"]) == {"gold"}
    assert result["label"].tolist() == chosen_labels(demo_bundle, in_process)
    rows = np.arange(len(reviews))
    expected = in_process.probabilities[rows, in_process.chosen]
    np.testing.assert_allclose(result["probability"].to_numpy(), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(result["p_positive"].to_numpy(), in_process.probabilities[:, 1], rtol=0, atol=1e-6)


def task_error(ray: Any, reviews: Any, bundle: Path) -> str:
    with pytest.raises(Exception) as failed:
        scored(ray, dataset(ray, reviews.iloc[:BLOCK_ROWS]), 1, bundle=str(bundle))
    message = str(failed.value)
    assert "ReviewclfError" in message
    assert "pickl" not in message.lower() and "deserializ" not in message.lower()
    return message


def test_a_tampered_bundle_fails_the_task_with_the_runtime_error(ray_local: Any, reviews: Any,
                                                                 tampered: tuple[Path, str]):
    path, error = tampered
    assert "checksum mismatch for model.onnx" in error and error in task_error(ray_local, reviews, path)


def test_a_bad_bundle_path_fails_the_task_with_the_runtime_error(ray_local: Any, reviews: Any, tmp_path: Path):
    assert f"{tmp_path / 'nothing'}: no such bundle" in task_error(ray_local, reviews, tmp_path / "nothing")
