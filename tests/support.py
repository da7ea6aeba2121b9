"""What several test modules share: where the real data sets are, and how a small run and bundle are made."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
POLARITY = "1=negative,2=negative,4=positive,5=positive"
UCI_MAP = "0=negative,1=positive"
# Counts from ../shared/data/yelp-10k/PROVENANCE.txt (verified there, not measured by this code).
YELP_STARS = {"1": 749, "2": 927, "3": 1461, "4": 3526, "5": 3337}
YELP_POLARITY = {"negative": 1676, "positive": 6863}


def make_run(out: Path, **overrides: object) -> Path:
    """Train a small, fast model on the embedded demo sentences into ``out`` and return the run directory."""
    from reviewclf.training.config import TrainConfig
    from reviewclf.training.run import train_run

    settings: dict[str, object] = {"model": "perceptron", "epochs": 4, "lr": 0.01, "out": str(out), "batch_size": 64}
    if overrides.get("model") == "ngram":
        settings.update(dim=16, buckets=4096, dropout=0.1)
    if overrides.get("model") == "mlp":
        settings.update(hidden=16, dropout=0.1)
    settings.update(overrides)
    train_run(TrainConfig.from_dict(settings), log=lambda _: None)
    return out


def make_bundle(run_dir: Path, out: Path, **options: object) -> Path:
    from reviewclf.export.bundle_writer import export_bundle

    export_bundle(run_dir, out, log=lambda _: None, **options)  # type: ignore[arg-type]
    return out


_LAUNCHER = (
    "import json, resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "print(json.dumps([done.returncode, done.stdout, done.stderr,"
    " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024]))"
)


def run_measured(command: list[str], timeout: float = 300) -> tuple[int, str, str, int]:
    """Run ``command``; return its exit code, stdout, stderr and peak RSS in MiB.

    A small launcher starts it and reads its ``RUSAGE_CHILDREN``: started from the test process itself, the
    child's ``ru_maxrss`` would carry the test process's own high-water mark across fork + exec.
    """
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], capture_output=True, text=True,
                          timeout=timeout, check=True)
    code, stdout, stderr, peak = json.loads(done.stdout)
    return code, stdout, stderr, peak
