"""How the int8 model of a bundle compares with its fp32 model on the test split of the run it came from.

Rebuilds the run's test split with the project's own reading and splitting code (the run's config.json: same
files, options and seed), predicts it with both ONNX models through ``Predictor``, and prints the label
agreement, both accuracies and both model sizes.

Run (from the project root), e.g. after
    reviewclf train ../shared/data/yelp-10k/yelp.csv.zip --text-column text --label-column stars \\
        --label-map '1=negative,2=negative,4=positive,5=positive' --out runs/yelp
    reviewclf export runs/yelp -o bundles/yelp --quantize
then
    python benchmarks/int8_agreement.py runs/yelp bundles/yelp
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from common import markdown_table

from reviewclf.runtime.bundle import ONNX_INT8_MODEL, ONNX_MODEL
from reviewclf.runtime.predictor import Predictor
from reviewclf.training.config import TrainConfig
from reviewclf.training.run import RUN_CONFIG, load_data, split_rows


def test_split(run_dir: Path) -> tuple[list[str], list[str]]:
    """The texts and labels of the run's test split, rebuilt exactly as training built it."""
    config = TrainConfig.from_dict(json.loads((run_dir / RUN_CONFIG).read_text()))
    data, test = load_data(config, log=lambda _: None)
    if test is not None:
        return test.texts, test.labels
    rows = split_rows(data, config, has_test_file=False)["test"]
    return [data.texts[i] for i in rows], [data.labels[i] for i in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("bundle", type=Path)
    args = parser.parse_args()
    texts, names = test_split(args.run_dir)
    results = {}
    for int8 in (False, True):
        predictor = Predictor.load(args.bundle, int8=int8)
        started = time.perf_counter()
        chosen = predictor.decision.choose(predictor.predict_proba(texts))
        seconds = time.perf_counter() - started
        truth = np.array([predictor.labels.index(n) for n in names])
        name = ONNX_INT8_MODEL if int8 else ONNX_MODEL
        size = predictor.bundle.manifest["files"][name]["bytes"]
        results[name] = (chosen, float((chosen == truth).mean()), size, len(texts) / seconds)
    agreement = float((results[ONNX_MODEL][0] == results[ONNX_INT8_MODEL][0]).mean())
    rows = [[name, f"{acc:.4f}", f"{size / 1e6:.2f}", f"{speed:,.0f}"]
            for name, (_, acc, size, speed) in results.items()]
    print(f"{args.bundle}: {len(texts):,} test texts; int8 labels agree with fp32 on {100 * agreement:.2f}%")
    print(markdown_table(["model", "test accuracy", "MB", "reviews/s"], rows))


if __name__ == "__main__":
    main()
