"""``reviewclf export``, ``info`` and ``verify``: making bundles and checking them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import ReviewclfError
from ..runtime.bundle import TORCHSCRIPT_MODEL, VERIFICATION, Bundle, load_bundle

if TYPE_CHECKING:  # only a type here: the CLI imports the export modules when a command runs
    from ..export.equivalence import Runner


@click.command()
@click.argument("run_dir", type=click.Path())
@click.option("-o", "--out", required=True, type=click.Path(), help="Bundle directory (or archive file).")
@click.option("--archive", is_flag=True, help="Write the bundle as one zip file.")
@click.option("--quantize", is_flag=True, help="Add model.int8.onnx (dynamic int8 quantization).")
@click.option("--pt2", is_flag=True, help="Add model.pt2, the torch.export program.")
@click.option("--force", is_flag=True, help="Replace an existing bundle.")
def export(run_dir: str, out: str, archive: bool, quantize: bool, pt2: bool, force: bool) -> None:
    """Export RUN_DIR to a verified bundle (ONNX + TorchScript + tokenizer + manifest)."""
    from ..export.bundle_writer import export_bundle

    manifest = export_bundle(run_dir, out, archive=archive, quantize=quantize, program=pt2, force=force,
                             log=lambda line: click.echo(line, err=True))
    report = manifest["equivalence"]
    diffs = ", ".join(f"{k} {v:.1e}" for k, v in report["max_abs_diff"].items())
    click.echo(f"bundle written to {out}: {report['texts']} texts verified, max |Δp| {diffs}")
    if "int8_label_agreement" in report:
        click.echo(f"int8 agrees with fp32 on {100 * report['int8_label_agreement']:.2f}% of verification labels")


def describe(manifest: dict) -> str:
    """The manifest in human form."""
    model = manifest["model"]
    created = manifest["created_by"]
    lines = [
        f"format     {manifest['format']} {manifest['format_major']}.{manifest['format_minor']}",
        f"model      {model['kind']} {json.dumps(model['hyperparameters'])}",
        f"labels     {', '.join(manifest['labels'])}",
        f"decision   {manifest['decision']['description']}",
        f"input      {manifest['input']['name']} int64 [batch, sequence], vocabulary {manifest['input']['vocab_size']}"
        f", max length {manifest['max_length']}",
        "made by    " + ", ".join(f"{k} {v}" for k, v in created.items()) + f", opset {manifest['opset']}",
    ]
    for split in ("val", "test"):
        m = manifest.get("metrics", {}).get(split)
        if m:
            lines.append(f"{split:<10} accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f} (n={m['n']})")
    report = manifest.get("equivalence", {})
    if report:
        worst = max(report["max_abs_diff"].values())
        lines.append(f"equivalence {report['texts']} texts, batch sizes {report['batch_sizes']}, "
                     f"max |Δp| {worst:.1e}, labels agree: {report['labels_agree']}")
    lines.append("files")
    for name, entry in manifest["files"].items():
        lines.append(f"  {name:<22} {entry['bytes']:>12,} bytes  sha256 {entry['sha256'][:16]}…")
    return "\n".join(lines)


@click.command()
@click.argument("bundle", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def info(bundle: str, as_json: bool) -> None:
    """Show what a BUNDLE holds: labels, model, metrics, sizes, versions."""
    manifest = load_bundle(bundle).manifest
    click.echo(json.dumps(manifest, indent=2, ensure_ascii=False) if as_json else describe(manifest))


def torch_backends(bundle: Bundle) -> dict[str, Runner]:
    """The bundle's TorchScript module as a backend where torch is installed; none (and a note) where not."""
    try:
        from ..export.torchscript import torchscript_runner
    except ModuleNotFoundError:
        click.echo("torch is not installed: checking ONNX Runtime only", err=True)
        return {}
    if TORCHSCRIPT_MODEL not in bundle.names:
        return {}
    return {"torchscript": torchscript_runner(bundle.read(TORCHSCRIPT_MODEL))}


@click.command()
@click.argument("bundle", type=click.Path())
def verify(bundle: str) -> None:
    """Re-check BUNDLE: checksums, then the backends and the runtime's text path against the probabilities
    stored at export."""
    from ..export.equivalence import verify_predictor
    from ..runtime.predictor import Predictor

    predictor = Predictor.load(bundle)
    predictor.bundle.verify_all()
    stored = predictor.bundle.read_json(VERIFICATION)
    report = verify_predictor(predictor, stored["texts"], stored["probabilities"], torch_backends(predictor.bundle))
    click.echo(f"checksums ok ({len(predictor.bundle.names)} files)")
    for pair, diff in report["max_abs_diff"].items():
        click.echo(f"{pair:<28} max |Δp| {diff:.2e}")
    for name, diff in report["batch_invariance_max_abs_diff"].items():
        click.echo(f"{name + ' across batch sizes':<28} max |Δp| {diff:.2e}")
    if not report["passed"]:
        raise ReviewclfError(f"{Path(bundle)}: verification failed (tolerance {report['tolerance']}, "
                             f"labels agree: {report['labels_agree']})")
    click.echo(f"verified: {report['texts']} texts agree within {report['tolerance']}")


COMMANDS = [export, info, verify]
