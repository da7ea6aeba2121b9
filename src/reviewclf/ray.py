"""Score a Ray Dataset with a bundle: ``BundlePredictor`` is the callable class ``Dataset.map_batches`` runs
in a pool of actors, each loading the bundle once.

    ds.map_batches(BundlePredictor, fn_constructor_kwargs={"bundle": path, "text_column": "text"},
                   compute=ray.data.ActorPoolStrategy(size=2), batch_format="pandas")

(``concurrency=2`` says the same and is deprecated since Ray 2.51.) Leave the read and write tasks a CPU: a
pool whose actors reserve every CPU of the cluster never lets the read start.

Each actor reads the bundle by its path (every node must be able to read it: shared storage) and checksums
it. Needs ``reviewclf[ray]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .engines import WORKER_THREADS, ScoringSpec, plain_errors, result_names, score_groups, worker_predictor
from .extras import require
from .io.records import TEXT_COLUMNS, require_column
from .runtime.batching import DEFAULT_BATCH_SIZE

FEATURE = "reviewclf.ray"


class BundlePredictor:
    """Adds ``label`` and ``probability`` (and ``p_<label>`` per label with ``all_probs``) to each batch and
    keeps every other column; an input column of one of those names is kept as ``input_<name>``, as
    ``reviewclf predict`` does. A missing text gives a missing label and probability.

    ``text_column`` defaults to the first of text, review, sentence, content present. ``threads`` is ONNX
    Runtime's intra-op threads per actor (``None``: every core), one by default: Ray runs one actor per CPU.
    """

    def __init__(self, bundle: str | Path, text_column: str | None = None, *, all_probs: bool = False,
                 threshold: float | None = None, int8: bool = False, threads: int | None = WORKER_THREADS,
                 batch_size: int = DEFAULT_BATCH_SIZE):
        require("pandas", "ray", FEATURE)
        self.spec = ScoringSpec(str(bundle), int8, threads, batch_size, threshold, all_probs)
        self.text_column = text_column
        self._load()

    def _load(self) -> None:
        self.predictor = worker_predictor(self.spec)
        self.names = result_names(self.predictor.labels, self.spec.all_probs)

    def __getstate__(self) -> dict[str, Any]:
        # sent to another process (a task, not an actor), it travels as its settings and loads there
        return {"spec": self.spec, "text_column": self.text_column}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.spec, self.text_column = state["spec"], state["text_column"]
        self._load()

    def __call__(self, batch: Any) -> Any:
        """One batch: a pandas DataFrame (``batch_format="pandas"``) or a dict of numpy arrays (Ray's default);
        the same kind comes back."""
        import pandas as pd

        with plain_errors():
            names = [str(name) for name in batch]
            text = names[require_column("the batch", None, names, self.text_column, TEXT_COLUMNS, "text")]
            (_, columns), = score_groups(self.predictor, self.spec, [(None, pd.Series(batch[text]))])
        renames = {name: self._out_name(name) for name in names if name in self.names}
        if isinstance(batch, pd.DataFrame):
            out = batch.rename(columns=renames)
            for name, values in columns.items():
                out[name] = values
            return out
        out = {renames.get(name, name): values for name, values in batch.items()}
        return out | columns

    def _out_name(self, name: str) -> str:
        while name in self.names:
            name = f"input_{name}"
        return name
