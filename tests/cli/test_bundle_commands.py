"""``reviewclf export``, ``info`` and ``verify``: export writes a verified bundle, info shows it, verify passes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from reviewclf.cli import main
from reviewclf.runtime.bundle import load_bundle


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
