"""The supervised training loop: the lesson's five steps per batch, validation each epoch, early stopping.

The data arrives already tokenized as tensors on the training device; a batch is an index into them,
trimmed to its longest row, so nothing is re-vectorized in Python per batch.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import OptionError, ReviewclfError
from ..metrics import classification_report
from .augment import word_dropout
from .config import CLASS_WEIGHTS, TrainConfig
from .encoded_set import EncodedSet
from .models import Classifier, use_sparse_gradients
from .progress import bar
from .resume import Resume
from .row_features import precomputable, with_row_features
from .sparse_grads import DenseGradients
from .stopping import BestCheckpoint, EarlyStopping

BUCKET_BATCHES = 50


def bucketed_batches(lengths: torch.Tensor, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Shuffled batches of similar-length rows: shuffle, sort by length inside windows of ``BUCKET_BATCHES``
    batches, cut, shuffle the batches. Each batch is trimmed to its longest row, so less padding is computed
    while every epoch still sees the data in a new random order."""
    device = lengths.device
    order = torch.randperm(len(lengths), generator=generator, device=device)
    window = batch_size * BUCKET_BATCHES
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start : start + window]
        chunk = chunk[torch.argsort(lengths[chunk], stable=True)]
        batches.extend(chunk.split(batch_size))
    shuffle = torch.randperm(len(batches), generator=generator, device=device).tolist()
    return [batches[i] for i in shuffle]


OPTIMIZERS = ("adam", "sgd")
DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise OptionError("device", "cuda was asked for but no CUDA GPU is available")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise OptionError("device", "mps was asked for but MPS is not available")
    if name not in ("cpu", "cuda", "mps"):
        raise OptionError("device", f"unknown device {name!r}; use {', '.join(DEVICES)}")
    return torch.device(name)


def class_weights(targets: torch.Tensor, n_classes: int, mode: str) -> torch.Tensor | None:
    """Per-class loss weights: None for ``none``; for ``balanced`` n / (k * n_c), the inverse class frequency
    of ``targets`` (the training split) scaled so that the weights average 1 over its rows (scikit-learn's)."""
    if mode == "none":
        return None
    if mode != "balanced":
        raise OptionError("class_weight", f"unknown class weighting {mode!r}; use {' or '.join(CLASS_WEIGHTS)}")
    counts = torch.bincount(targets, minlength=n_classes).float().clamp(min=1.0)
    return len(targets) / (n_classes * counts)


def loss_fn(logits: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """BCE-with-logits on one output (the book's binary head), cross-entropy on several. With per-class
    ``weight`` both are the weighted mean (divided by the rows' total weight, as torch's cross-entropy)."""
    logits = logits.float()
    if logits.shape[1] == 1:
        if weight is None:
            return F.binary_cross_entropy_with_logits(logits[:, 0], targets.float())
        rows = weight[targets]
        losses = F.binary_cross_entropy_with_logits(logits[:, 0], targets.float(), reduction="none")
        return (losses * rows).sum() / rows.sum()
    return F.cross_entropy(logits, targets, weight=weight)


def predicted_index(logits: torch.Tensor) -> torch.Tensor:
    """The chosen label: the sign of a binary logit, else the largest logit."""
    if logits.shape[1] == 1:
        return (logits[:, 0] >= 0).long()
    return logits.argmax(dim=1)


def import_optimizer_in_background() -> None:
    """Begin importing what the first torch optimizer imports (``torch._dynamo``, about a second of CPU) on a
    thread, so that it overlaps the tokenizing and counting before training, which mostly release the GIL."""
    if "torch._dynamo" not in sys.modules:
        threading.Thread(target=importlib.import_module, args=("torch._dynamo",), daemon=True).start()


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam or SGD with momentum; ``weight_decay`` is the L2 penalty of the lesson.

    Adam runs fused where torch has the kernel (CPU, CUDA): the loop version allocates two temporaries the
    size of each weight at every step, which for the ngram model's table of millions of rows is a large
    part of a CPU epoch.
    """
    if config.optimizer == "adam":
        params = list(model.parameters())
        fused = all(p.device.type in ("cpu", "cuda") for p in params)
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=fused)
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    raise OptionError("optimizer", f"unknown optimizer {config.optimizer!r}; use {' or '.join(OPTIMIZERS)}")


def autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast where torch supports it (CUDA, CPU); elsewhere full precision."""
    if bf16 and device.type in ("cuda", "cpu"):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate_logits(model: Classifier, data: EncodedSet, batch_size: int, bf16: bool = False) -> torch.Tensor:
    """Logits of every row, in order, in evaluation mode (dropout off)."""
    model.eval()
    device = data.device
    logits = torch.zeros((len(data), getattr(model, "n_outputs", 1)), device=device)
    for index in data.passes(batch_size):
        inputs, _ = data.inputs(index)
        with autocast(device, bf16):
            logits[index] = forward_batch(model, inputs).float()
    return logits


def forward_batch(forward: Callable[[torch.Tensor], torch.Tensor], inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The logits of a batch (``EncodedSet.inputs``): from its ids, or from what the ngram model reads of
    each row, computed once for the fit (``forward_rows``; ``row_features``)."""
    if len(inputs) == 1:
        return forward(inputs[0])
    return forward.forward_rows(*inputs)  # type: ignore[attr-defined]


def loss_and_accuracy(model: Classifier, data: EncodedSet, batch_size: int, bf16: bool,
                      weight: torch.Tensor | None = None) -> tuple[float, float]:
    """Mean loss (weighted as in training) and accuracy over a whole split, in evaluation mode."""
    scores = split_scores(model, data, batch_size, bf16, weight)
    return scores["loss"], scores["accuracy"]


def split_scores(model: Classifier, data: EncodedSet, batch_size: int, bf16: bool,
                 weight: torch.Tensor | None = None) -> dict[str, float]:
    """Loss, accuracy and macro-F1 over a whole split, in evaluation mode (what each epoch validates)."""
    logits = evaluate_logits(model, data, batch_size, bf16)
    chosen = predicted_index(logits)
    n_classes = max(logits.shape[1], 2)
    names = [str(i) for i in range(n_classes)]
    report = classification_report(data.targets.cpu().numpy(), chosen.cpu().numpy(), names)
    return {"loss": float(loss_fn(logits, data.targets, weight)), "accuracy": report["accuracy"],
            "macro_f1": report["macro_f1"]}


@dataclass
class TrainResult:
    history: list[dict[str, float]]
    best_epoch: int | None
    stopped_by: str  # "epochs", "early-stopping", "interrupted", or the reason an ``on_epoch`` hook gave


@dataclass
class Fit:
    """What one fit carries from batch to batch and epoch to epoch."""

    model: Classifier
    forward: Callable[[torch.Tensor], torch.Tensor]  # the model, or its torch.compile'd form
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    config: TrainConfig
    class_weights: torch.Tensor | None = None  # per-class loss weights (``--class-weight balanced``)
    gradients: DenseGradients = field(default_factory=DenseGradients)


def train_step(fit: Fit, inputs: tuple[torch.Tensor, ...], targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The lesson's five steps on one batch (``EncodedSet.inputs``): zero the gradients, forward, loss, backward,
    optimizer step. Returns the loss and logits, detached."""
    config = fit.config
    fit.optimizer.zero_grad(set_to_none=True)
    with autocast(targets.device, config.bf16):
        logits = forward_batch(fit.forward, inputs)
    loss = loss_fn(logits, targets, fit.class_weights)
    if config.l1 > 0:
        loss = loss + config.l1 * fit.model.first_layer_weight().abs().sum()
    loss.backward()
    fit.gradients.densify(fit.model.parameters())
    fit.optimizer.step()
    return loss.detach(), logits.detach()


def train_epoch(fit: Fit, train: EncodedSet, epoch: int) -> tuple[float, float]:
    """One pass over the shuffled, length-bucketed training batches; the mean loss and accuracy.
    Totals stay on the device so that no batch waits for a GPU-to-host copy."""
    fit.model.train()
    device = train.device
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device)
    with bar(f"epoch {epoch}", len(train)) as progress:
        for index in bucketed_batches(train.lengths, fit.config.batch_size, fit.generator):
            inputs, targets = train.inputs(index)
            if train.features is None:  # precomputed inputs are only made without word dropout
                inputs = (word_dropout(inputs[0], fit.config.word_dropout, fit.generator),)
            loss, logits = train_step(fit, inputs, targets)
            total_loss += loss * len(targets)
            correct += (predicted_index(logits) == targets).sum()
            progress.update(len(targets))
    train_loss = float(total_loss) / len(train)
    if not math.isfinite(train_loss):
        raise ReviewclfError(f"training diverged: the loss became {train_loss} in epoch {epoch}; lower --lr")
    return train_loss, float(correct) / len(train)


def epoch_line(record: dict[str, float]) -> str:
    return (f"epoch {record['epoch']:3d}  train loss {record['train_loss']:.4f} acc {record['train_acc']:.4f}  "
            f"val loss {record['val_loss']:.4f} acc {record['val_acc']:.4f}  lr {record['lr']:.2e}  "
            f"{record['seconds']:.1f}s")


EpochHook = Callable[[dict[str, float]], str | None]


@dataclass
class Progress:
    """What the epochs build up besides the weights and the optimizer: the early-stopping counters, the best
    checkpoint, the learning-rate schedule and the history (with the ``Fit``, what a resume state holds)."""

    stopper: EarlyStopping
    best: BestCheckpoint
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau
    history: list[dict[str, float]] = field(default_factory=list)


def start_fit(model: Classifier, train: EncodedSet, config: TrainConfig) -> tuple[Fit, Progress]:
    """The optimizer, the seeded batch-order generator, the schedule and the stopping rule of a new fit."""
    generator = torch.Generator(device=train.device).manual_seed(config.seed)
    forward = torch.compile(model) if config.compile else model
    # sparse table gradients were measured only on the CPU; CUDA and compiled graphs keep the dense path
    use_sparse_gradients(model, train.device.type == "cpu" and not config.compile)
    weight = class_weights(train.targets, max(model.n_outputs, 2), config.class_weight)
    fit = Fit(model, forward, make_optimizer(model, config), generator, config, weight)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        fit.optimizer, mode="min", factor=config.lr_factor, patience=config.lr_patience
    )
    return fit, Progress(EarlyStopping(config.patience), BestCheckpoint(), scheduler)


def run_epoch(fit: Fit, progress: Progress, train: EncodedSet, val: EncodedSet, epoch: int) -> dict[str, float]:
    """Train one epoch, validate, keep the best checkpoint, step the schedule; the epoch's history record."""
    config = fit.config
    started = time.perf_counter()
    train_loss, train_acc = train_epoch(fit, train, epoch)
    scores = split_scores(fit.model, val, config.batch_size * 4, config.bf16, fit.class_weights)
    if progress.stopper.step(scores["loss"]):
        progress.best.save(fit.model, epoch)
    progress.scheduler.step(scores["loss"])
    progress.history.append({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                             "val_loss": scores["loss"], "val_acc": scores["accuracy"],
                             "val_macro_f1": scores["macro_f1"], "lr": fit.optimizer.param_groups[0]["lr"],
                             "seconds": time.perf_counter() - started})
    return progress.history[-1]


def run_epochs(fit: Fit, progress: Progress, train: EncodedSet, val: EncodedSet, done: int,
               log: Callable[[str], None], on_epoch: EpochHook | None, resume: Resume | None,
               work: Path) -> str:
    """The epochs after the ``done`` ones, until a stopping rule, a hook or Ctrl-C ends them; why they ended.
    ``work``: where the splits' precomputed features go, when the model can take them."""
    config = fit.config
    try:
        if precomputable(fit.model, config.word_dropout, config.compile):
            train, val = (with_row_features(fit.model, part, work, name)  # type: ignore[arg-type]
                          for name, part in (("train", train), ("val", val)))
        for epoch in range(done + 1, config.epochs + 1):
            record = run_epoch(fit, progress, train, val, epoch)
            log(epoch_line(record))
            reason = on_epoch(record) if on_epoch is not None else None
            if reason:
                return reason
            if progress.stopper.should_stop:
                log(f"early stopping: no val-loss improvement for {config.patience} epochs")
                return "early-stopping"
            if resume is not None:  # after the stopping rules: no saved state resumes a run they ended
                resume.save(fit, progress, epoch)
    except KeyboardInterrupt:
        log("interrupted: keeping the best checkpoint so far")
        return "interrupted"
    return "epochs"


def train_model(
    model: Classifier,
    train: EncodedSet,
    val: EncodedSet,
    config: TrainConfig,
    log: Callable[[str], None] = print,
    on_epoch: EpochHook | None = None,
    resume: Resume | None = None,
) -> TrainResult:
    """Fit ``model`` in place and leave it holding the weights of the epoch with the best validation loss.

    ``on_epoch`` sees each epoch's record and may end training by returning the reason (autotune's pruner and
    time budget); the best checkpoint is restored as after early stopping. ``resume``: continue from its
    state, and write the state after every completed epoch, so a Ctrl-C leaves what ``--resume`` needs.
    """
    fit, progress = start_fit(model, train, config)
    # outside the try: an interrupt before the starting state is written ends the run with nothing written
    done = resume.start(fit, progress, train, val) if resume is not None else 0
    if done:
        log(f"resuming after epoch {done} of {config.epochs}")
    with tempfile.TemporaryDirectory(prefix="reviewclf-features-", ignore_cleanup_errors=True) as folder:
        stopped_by = run_epochs(fit, progress, train, val, done, log, on_epoch, resume, Path(folder))
    use_sparse_gradients(model, False)
    # the gradients and the optimizer's moments are done with: freed before the best weights are copied back,
    # so that restoring them does not add to the fit's peak memory
    model.zero_grad(set_to_none=True)
    fit.gradients.buffers.clear()
    fit.optimizer.state.clear()
    best = progress.best
    if best.state is None:  # interrupted before the first validation: keep what there is
        best.save(model, 0)
    best.restore(model)
    return TrainResult(history=progress.history, best_epoch=best.epoch, stopped_by=stopped_by)
