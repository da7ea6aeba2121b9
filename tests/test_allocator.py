"""The allocator calls: freed numpy temporaries are reused, not faulted in again for every window, and what a
phase freed can be handed back to the kernel before the next one."""

from __future__ import annotations

import subprocess
import sys

import pytest

# What scoring does: a worker thread allocates a window's temporaries of a few MB (sizes differ from window
# to window) and frees them, window after window.
CHURN = """
import resource, sys
from concurrent.futures import ThreadPoolExecutor
import numpy as np
if sys.argv[1] == "on":
    from reviewclf.allocator import reuse_freed_memory
    reuse_freed_memory()
def window(k):
    parts = [np.ones((1 << 18) + 512 * ((k * 7 + j) % 50)) for j in range(4)]
    return sum(float(p[0]) for p in parts)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
with ThreadPoolExecutor(1) as pool:
    list(pool.map(window, range(40)))
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
PAGES_PER_WINDOW = 4 * (1 << 18) * 8 // 4096


def page_faults(setting: str) -> int:
    out = subprocess.run([sys.executable, "-c", CHURN, setting], capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a glibc setting; elsewhere the call does nothing")
def test_freed_blocks_are_reused_instead_of_faulted_in_again() -> None:
    without, with_setting = page_faults("off"), page_faults("on")
    assert without > 20 * PAGES_PER_WINDOW  # every window's arrays come back from the kernel as fresh pages
    assert with_setting < 4 * PAGES_PER_WINDOW  # the first windows are faulted in, the others reuse them


GIVE_BACK = """
import sys
from concurrent.futures import ThreadPoolExecutor
import numpy as np
from reviewclf.allocator import give_back_freed_memory, reuse_freed_memory
def resident_mib():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS")) / 1024
reuse_freed_memory()  # freed blocks are kept: what a phase leaves behind stays resident
with ThreadPoolExecutor(1) as pool:
    list(pool.map(lambda k: [np.ones(1 << 18) for _ in range(32)][0][0], range(4)))
before = resident_mib()
give_back_freed_memory()
print(before - resident_mib())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a glibc call; elsewhere it does nothing")
def test_freed_memory_is_handed_back_between_phases() -> None:
    out = subprocess.run([sys.executable, "-c", GIVE_BACK], capture_output=True, text=True, check=True)
    assert float(out.stdout) > 16  # a phase freed 64 MB (32 arrays of 2 MB); most of it leaves the process
