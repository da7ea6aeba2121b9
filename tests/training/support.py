"""What several training test modules share: the CPU device, a silent log, and a run's model read back."""

from __future__ import annotations

from pathlib import Path

import torch

from reviewclf.training.rundir import RunDir

CPU = torch.device("cpu")


def quiet(_: str) -> None:
    pass


def load_run_model(run: Path) -> torch.nn.Module:
    return RunDir.open(run).load_model()
