"""``reviewclf predict`` and ``evaluate``: score files with a bundle, and measure a bundle on labeled data.

Both run on the runtime alone (ONNX Runtime, tokenizers, numpy): nothing here imports torch unless
``--backend torchscript`` asks for it, so an operator's install without the ``[train]`` extra serves
predictions, and ``reviewclf predict`` starts in a fraction of a second.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import numpy as np

from ..errors import ReviewclfError
from ..io.prediction_io import INPUT_FORMATS, OUTPUT_FORMATS, PARQUET, InputReader
from ..runtime.batching import DEFAULT_BATCH_SIZE
from .options import data_options

BACKENDS = ("onnxruntime", "torchscript")
# one definition for both commands: rows per ONNX Runtime call
batch_size_option = click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH_SIZE,
                                 show_default=True, help="Texts per ONNX Runtime call at most (fewer when long).")
TORCH_HINT = "the torchscript backend needs torch: pip install 'reviewclf[train]'"


def load_predictor(bundle: str, *, int8: bool, threads: int | None, backend: str = "onnxruntime") -> Any:
    """A ``Predictor`` whose model runs on the chosen backend; tokenization, batching and checks are shared."""
    from ..runtime.predictor import Predictor

    if backend == "onnxruntime":
        return Predictor.load(bundle, int8=int8, threads=threads)
    if int8:
        raise ReviewclfError("--int8 applies to the onnxruntime backend only (TorchScript is float32)")
    from ..runtime.bundle import TORCHSCRIPT_MODEL, load_bundle

    try:
        import torch

        from ..export.torchscript import torchscript_runner
    except ImportError:
        raise ReviewclfError(TORCH_HINT) from None
    if threads:
        torch.set_num_threads(threads)
    loaded = load_bundle(bundle, verify_all=False)
    return Predictor(loaded, torchscript_runner(loaded.read(TORCHSCRIPT_MODEL)))


@contextmanager
def _progress(reader: InputReader, output: str | None) -> Iterator[Any]:
    """A bytes progress bar on stderr when it is a terminal, the inputs are files and stdout is not sharing it."""
    total = reader.total_bytes()
    to_terminal = (output is None or output == "-") and sys.stdout.isatty()
    if total is None or not sys.stderr.isatty() or to_terminal:
        yield None
        return
    with click.progressbar(length=total, label="scoring", file=sys.stderr) as bar:
        yield bar


def _report_counts(reader: InputReader, writer: Any) -> None:
    """What was left out, on stderr, so that a skipped row is never silent."""
    if reader.skipped:
        click.echo(f"{reader.skipped} bad rows skipped", err=True)
    if writer.rows_with_extra_fields:
        click.echo(f"{writer.rows_with_extra_fields} rows had fields that the first row lacks; they are not in the "
                   "CSV/TSV/Parquet output (write JSONL to keep them)", err=True)


@click.command()
@click.argument("bundle", type=click.Path())
@click.argument("inputs", nargs=-1, type=click.Path())
@click.option("-o", "--output", default=None, type=click.Path(),
              help="Output file (default: stdout). Written atomically: complete or not at all.")
@click.option("--output-format", type=click.Choice(OUTPUT_FORMATS + (PARQUET,)), default=None,
              help="Output format (default: from the -o extension; stdout: csv).")
@click.option("--input-format", type=click.Choice(INPUT_FORMATS), default=None,
              help="Input format (default: from each file's extension, .csv .tsv .jsonl .ndjson .parquet, else txt; "
                   "stdin: txt).")
@click.option("--text-column", "--text-field", "text_column", default=None,
              help="CSV/TSV/Parquet column or JSONL field holding the review (default: text, review, sentence or "
                   "content).")
@click.option("--include-text", is_flag=True, help="Also write the review text to the output.")
@click.option("--all-probs", is_flag=True, help="Add one p_<label> column per label (JSONL: 'probabilities').")
@click.option("--threshold", type=float, default=None,
              help="Binary models: P(positive label) needed to choose it (default: the bundle's).")
@click.option("--top-k", "k", type=click.IntRange(min=0), default=0,
              help="Add the K most probable labels: label_1, probability_1, ... (JSONL: 'top_k').")
@batch_size_option
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads (default: all cores).")
@click.option("--int8", is_flag=True, help="Use the bundle's int8-quantized ONNX model.")
@click.option("--backend", type=click.Choice(BACKENDS), default="onnxruntime", show_default=True,
              help="torchscript needs the [train] extra.")
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of the inputs.")
@click.option("--on-error", type=click.Choice(["raise", "skip"]), default="raise", show_default=True,
              help="Stop at the first bad row, or skip and count bad rows.")
def predict(bundle: str, inputs: tuple[str, ...], output: str | None, output_format: str | None,
            input_format: str | None, text_column: str | None, include_text: bool, all_probs: bool,
            threshold: float | None, k: int, batch_size: int, threads: int | None, int8: bool, backend: str,
            encoding: str, on_error: str) -> None:
    """Label the reviews in INPUTS (files, or - / nothing for stdin) with BUNDLE, in input order.

    Plain-text input is one review per line; blank lines are scored as empty reviews, so output row N
    belongs to input line N. CSV/TSV/JSONL inputs carry their other columns (e.g. an id) to the output.
    """
    from ..io.prediction_io import output_format_of

    fmt = output_format or output_format_of(output)
    reader = InputReader(list(inputs), input_format=input_format, text_column=text_column, encoding=encoding,
                         on_error=on_error, include_text=include_text)
    predictor = load_predictor(bundle, int8=int8, threads=threads, backend=backend)
    predictor.check_k(k)  # refused before the output is opened
    predictor.decision.check(threshold)
    with _writer(output, inputs, fmt, predictor.labels, all_probs, k) as writer, _progress(reader, output) as bar:
        seen = 0
        groups = ((rows.carried, rows.texts) for rows in reader)
        for carried, scores in predictor.stream(groups, batch_size, threshold, k):
            writer.write(carried, scores)
            if bar is not None:
                bar.update(reader.bytes_read - seen)
                seen = reader.bytes_read
    _report_counts(reader, writer)


@contextmanager
def _writer(output: str | None, inputs: tuple[str, ...], fmt: str, labels: list[str], all_probs: bool,
            k: int) -> Iterator[Any]:
    """The prediction writer for ``fmt`` over its atomic output: a text stream, or a binary one for Parquet."""
    if fmt != PARQUET:
        from ..io.atomic import open_output
        from ..io.prediction_io import PredictionWriter

        with open_output(output, inputs) as stream:
            yield PredictionWriter(stream, fmt, labels, all_probs=all_probs, top_k=k)
        return
    from ..io.parquet_writer import ParquetPredictionWriter, parquet_output

    with parquet_output(output, inputs) as stream:
        writer = ParquetPredictionWriter(stream, labels, all_probs=all_probs, top_k=k, shown_as=output)
        yield writer
        writer.close()


@click.command()
@click.argument("bundle", type=click.Path())
@click.argument("data", nargs=-1, required=True, type=click.Path())
@data_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--threshold", type=float, default=None, help="Binary models: decision threshold to evaluate.")
@batch_size_option
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads (default: all cores).")
@click.option("--int8", is_flag=True, help="Evaluate the bundle's int8-quantized ONNX model.")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default=None,
              help="Only the rows of this split, for data that defines one (e.g. aclImdb's test half).")
def evaluate(bundle: str, data: tuple[str, ...], format_: str | None, text_column: str | None,
             label_column: str | None, label_map: str | None, encoding: str, on_error: str, as_json: bool,
             threshold: float | None, batch_size: int, threads: int | None, int8: bool, split: str | None) -> None:
    """Measure BUNDLE on labeled DATA files (read as `train` reads them): accuracy, per-label F1, confusion."""
    from ..io.label_map import parse_label_map
    from ..io.labeled import read_many
    from ..metrics import classification_report, format_report

    labeled = read_many(list(data), format=format_, text_column=text_column, label_column=label_column,
                        label_map=parse_label_map(label_map) if label_map else None, encoding=encoding,
                        on_error=on_error)
    texts, names = labeled.texts, labeled.labels
    if split:
        if labeled.splits is None:
            raise ReviewclfError(f"--split {split}: the data defines no split")
        keep = [i for i, name in enumerate(labeled.splits) if name == split]
        if not keep:
            raise ReviewclfError(f"--split {split}: the data has no {split} rows")
        texts, names = [texts[i] for i in keep], [names[i] for i in keep]
    predictor = load_predictor(bundle, int8=int8, threads=threads)
    y_true = label_indices(names, predictor.labels)
    chosen = predictor.score(texts, batch_size, threshold, k=0).chosen
    report = classification_report(y_true, chosen, predictor.labels)
    if labeled.dropped:
        click.echo(f"{labeled.dropped} rows dropped by the label map", err=True)
    if labeled.skipped:
        click.echo(f"{labeled.skipped} bad rows skipped", err=True)
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))


def label_indices(names: list[str], labels: list[str]) -> np.ndarray:
    """The model's index of each data label; labels the model does not know are one error listing them."""
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({name for name in names if name not in index})
    if unknown:
        shown = ", ".join(repr(name) for name in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise ReviewclfError(f"the data has labels the model does not know: {shown}; the model's labels are "
                             f"{', '.join(labels)} (map them with --label-map)")
    return np.fromiter((index[name] for name in names), dtype=np.int64, count=len(names))


COMMANDS = [predict, evaluate]
