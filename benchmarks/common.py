"""Small helpers shared by the benchmark scripts: data path, sub-sampling, timing a child process with its
peak memory, and printing tables. Standard library and numpy only, so every script runs on a machine with
just the project installed.

Not a benchmark itself; the scripts import it as ``common`` (they run as ``python benchmarks/NAME.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
DATA = PROJECT.parent / "shared" / "data"
RESULTS = PROJECT / "benchmarks" / "results"  # git-ignored: scratch files and JSON reports


def subsample(n_rows: int, limit: int | None, seed: int) -> np.ndarray:
    """Sorted indices of ``limit`` rows drawn at random (all rows when ``limit`` is None or large enough)."""
    if limit is None or limit >= n_rows:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).permutation(n_rows)[:limit])


def pick(rows: Sequence[int] | np.ndarray, *columns: Sequence[Any]) -> list[list[Any]]:
    """The given rows of each column (``pick(rows, texts, labels)``)."""
    return [[column[i] for i in rows] for column in columns]


def one_line(text: str) -> str:
    """A review as one line of a text file (newlines and tabs become spaces)."""
    return " ".join(text.split())


_FT_SPACED = str.maketrans({".": " . ", ",": " , ", "(": " ( ", ")": " ) ", "!": " ! ", "?": " ? ", "'": " ' ",
                            '"': "", ";": " ", ":": " "})


def fasttext_normalize(text: str) -> str:
    """fastText's classification-example.sh ``normalize_text``: lowercase, ``<br />`` out, punctuation apart."""
    return " ".join(text.lower().replace("<br />", " ").translate(_FT_SPACED).split())



def write_fasttext_file(path: Path, texts: Sequence[str], labels: Sequence[str], seed: int,
                        prepare: Any = one_line) -> Path:
    """fastText's training file (``__label__L text`` lines), rows shuffled: fastText reads the file in order
    with a decaying learning rate, so rows grouped by label (aclImdb is read all-neg then all-pos) would
    leave it fitted to the last label."""
    order = np.random.default_rng(seed).permutation(len(texts))
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(f"__label__{labels[i]} {prepare(texts[i])}\n" for i in order)
    return path


@dataclass
class ChildRun:
    seconds: float
    peak_rss_mb: float
    returncode: int


# A tiny launcher runs the measured command as *its* only child, times it, and reads that child's peak RSS
# with getrusage(RUSAGE_CHILDREN). Starting the command straight from a benchmark script would report the
# script's own RSS: Linux carries the parent's high-water mark across fork/vfork + exec into ru_maxrss.
_LAUNCHER = """
import json, resource, subprocess, sys, time
out = None if sys.argv[1] == "show" else subprocess.DEVNULL
started = time.perf_counter()
code = subprocess.call(sys.argv[2:], stdout=out or sys.stderr, stderr=out)
seconds = time.perf_counter() - started
print(json.dumps([seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code]))
"""


def run_child(command: Sequence[str], *, quiet: bool = True) -> ChildRun:
    """Run a command; its wall clock (start-up included) and peak RSS in MiB, measured by the launcher.

    With ``quiet=False`` the command's stdout and stderr go to our stderr (stdout keeps only the tables).
    """
    launcher = [sys.executable, "-c", _LAUNCHER, "quiet" if quiet else "show", *map(str, command)]
    done = subprocess.run(launcher, stdout=subprocess.PIPE, text=True, check=True)
    seconds, max_rss_kib, code = json.loads(done.stdout.strip().splitlines()[-1])
    return ChildRun(seconds, max_rss_kib / 1024.0, code)


def check(run: ChildRun, command: Sequence[str]) -> ChildRun:
    if run.returncode != 0:
        raise SystemExit(f"command failed with exit code {run.returncode}: {' '.join(map(str, command))}")
    return run


def measure_children(commands: dict[str, Sequence[str]], repeat: int) -> dict[str, dict[str, float]]:
    """Median wall clock and the largest peak RSS of each command over ``repeat`` rounds (each run checked).
    Every round runs each command once, in turn, so a change in the machine's load falls on all of them."""
    runs: dict[str, list[ChildRun]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            runs[name].append(check(run_child(command), command))
    return {name: {"seconds": statistics.median(r.seconds for r in found),
                   "peak_rss_mb": max(r.peak_rss_mb for r in found)} for name, found in runs.items()}


def measure_child(command: Sequence[str], repeat: int) -> dict[str, float]:
    """``measure_children`` for one command."""
    return measure_children({"command": command}, repeat)["command"]


def comma_list(text: str) -> list[str]:
    """A comma-separated command-line value as its non-empty items."""
    return [item.strip() for item in text.split(",") if item.strip()]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; numbers right-aligned, text left-aligned."""
    cells = [[format_cell(value) for value in row] for row in rows]
    numeric = [all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) for i in range(len(headers))]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        padded = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if num else ("-" * (w + 2)) for w, num in zip(widths, numeric)) + "|"
    return "\n".join([line(headers), rule] + [line(r) for r in cells])


def format_cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value >= 1000:
            return f"{value:,.0f}"
        if value >= 100:
            return f"{value:.1f}"
        return f"{value:.2f}" if value >= 1 else f"{value:.4f}"
    return str(value)


def write_json(path: str | None, payload: Any) -> None:
    """Write the machine-readable report when ``--json OUT`` was given."""
    if not path:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    print(f"\nJSON written to {path}", file=sys.stderr)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import platform

    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}


def log(message: str) -> None:
    """Progress goes to stderr so that stdout holds only the tables."""
    print(message, file=sys.stderr, flush=True)


@contextmanager
def scratch_dir(prefix: str, keep: bool) -> Iterator[Path]:
    """A fresh work directory under ``RESULTS``, removed at the end unless ``keep`` (``--keep``)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=RESULTS))
    try:
        yield work
    finally:
        if keep:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
