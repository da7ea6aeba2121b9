"""fastText's autotune in a child process with a cap on its resident memory.

With a budget of minutes its search tries models far larger than this machine (on the 2,160 UCI sentences, 300 s:
24 GB resident before the kernel's OOM killer ended the whole benchmark). In a child the benchmark survives it and
reports the trial as failed instead.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

MAX_RESIDENT = 12 << 30  # half of this machine's memory: the benchmark process itself needs the rest
POLL_S = 0.2


def resident_bytes(pid: int) -> int:
    """VmRSS of a live process, 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) << 10
    except OSError:
        pass
    return 0


def _search(train: str, val: str, budget: int, threads: int, model_path: str) -> None:
    import fasttext

    os.dup2(2, 1)  # its autotune prints progress whatever the verbosity: keep the parent's stdout for the tables
    started = time.perf_counter()
    model = fasttext.train_supervised(input=train, autotuneValidationFile=val, autotuneDuration=budget,
                                      thread=threads, verbose=0)
    seconds = time.perf_counter() - started
    model.save_model(model_path)
    Path(model_path + ".json").write_text(json.dumps({"seconds": seconds}))


def autotune(train: Path, val: Path, budget: float, threads: int, model_path: Path) -> tuple[Any, float] | str:
    """(the chosen fastText model, seconds of search) or why there is none."""
    import fasttext

    child = multiprocessing.get_context("fork").Process(
        target=_search, args=(str(train), str(val), int(budget), threads, str(model_path)))
    sys.stdout.flush()
    child.start()
    peak = 0
    while child.is_alive():
        child.join(POLL_S)
        peak = max(peak, resident_bytes(child.pid))
        if child.is_alive() and peak > MAX_RESIDENT:
            child.kill()
            child.join()
            return f"stopped at {peak / (1 << 30):.1f} GiB resident (cap {MAX_RESIDENT >> 30} GiB)"
    if child.exitcode != 0:
        return f"failed (exit code {child.exitcode})"
    seconds = json.loads(Path(str(model_path) + ".json").read_text())["seconds"]
    return fasttext.load_model(str(model_path)), seconds
