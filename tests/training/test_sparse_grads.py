"""Sparse table gradients, densified into kept buffers, equal the dense gradients and leave padding alone."""

from __future__ import annotations

import pytest
import torch

import reviewclf.training.loop as loop
from reviewclf.training.config import TrainConfig
from reviewclf.training.models import MODEL_KINDS, MultiHotLinear, build_model, use_sparse_gradients
from reviewclf.training.sparse_grads import DenseGradients
from tests.training.support import quiet
from tests.training.test_loop import synthetic_sets

HPARAMS = {"hidden": 8, "activation": "tanh", "dropout": 0.0, "dim": 8, "ngrams": 3, "buckets": 257}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def gradients(kind: str, ids: torch.Tensor, sparse: bool, steps: int = 1) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = build_model(kind, 50, 1, HPARAMS)
    with torch.no_grad():  # a non-zero n-gram table, so that its gradient reaches the dense word path too
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.1)
            if param.dim() == 2 and param.shape[0] >= 50:
                param[0].zero_()
    use_sparse_gradients(model, sparse)
    buffers = DenseGradients()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        logits = model(ids)
        torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], torch.tensor([1.0, 0.0, 1.0])).backward()
        buffers.densify(model.parameters())
        optimizer.step()
    return {name: p.grad.clone() for name, p in model.named_parameters()} | {
        f"{name}.value": p.detach().clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_densified_sparse_gradients_and_steps_equal_dense_ones(kind):
    ids = torch.tensor([[3, 7, 7, 9, 0, 0], [12, 3, 3, 3, 41, 2], [5, 0, 0, 0, 0, 0]])
    dense, sparse = gradients(kind, ids, False, steps=3), gradients(kind, ids, True, steps=3)  # buffers reused
    assert dense.keys() == sparse.keys()
    for name in dense:
        assert not sparse[name].is_sparse
        torch.testing.assert_close(sparse[name], dense[name], rtol=1e-6, atol=1e-7, msg=name)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_padding_rows_stay_zero(kind):
    ids = torch.tensor([[3, 7, 7, 9, 0, 0], [12, 3, 3, 3, 41, 2], [5, 0, 0, 0, 0, 0]])
    after = gradients(kind, ids, True, steps=4)
    for name, value in after.items():
        if name.endswith(".value") and value.dim() == 2 and value.shape[0] >= 50:
            assert torch.count_nonzero(value[0]) == 0, name


def test_the_buffer_is_kept_and_rezeroed_between_steps():
    param = torch.nn.Parameter(torch.zeros(6, 2))
    buffers = DenseGradients()
    param.grad = torch.sparse_coo_tensor([[1, 1]], torch.ones(2, 2), (6, 2))
    buffers.densify([param])
    first = param.grad
    param.grad = torch.sparse_coo_tensor([[4]], torch.full((1, 2), 3.0), (6, 2))
    buffers.densify([param])
    assert param.grad is first  # no fresh table-sized tensor per step
    assert torch.equal(param.grad, torch.zeros(6, 2).index_fill_(0, torch.tensor([4]), 3.0))  # row 1 cleared


def tables_sparse(model: torch.nn.Module) -> list[bool]:
    return [getattr(m, "sparse", None) if isinstance(m, torch.nn.Embedding) else m.sparse_gradients
            for m in model.modules() if isinstance(m, torch.nn.Embedding | MultiHotLinear)]


@pytest.mark.parametrize("compile_model", [False, True])
def test_a_cpu_fit_trains_sparse_unless_compiled_and_ends_dense(compile_model, monkeypatch):
    train, val = synthetic_sets()
    model = build_model("ngram", 60, 1, HPARAMS)
    seen = []
    monkeypatch.setattr(loop.torch, "compile", lambda m: m)  # only the flag matters here, not compilation
    config = TrainConfig(epochs=2, batch_size=8, seed=3, compile=compile_model)
    loop.train_model(model, train, val, config, log=quiet, on_epoch=lambda _: seen.append(tables_sparse(model)))
    assert seen and all(flags == [not compile_model] * len(flags) for flags in seen)
    assert tables_sparse(model) == [False] * len(tables_sparse(model))  # export and inference see dense tables


def test_dense_gradients_are_left_as_they_are():
    param = torch.nn.Parameter(torch.ones(3, 2))
    param.grad = torch.full((3, 2), 2.0)
    DenseGradients().densify([param])
    assert torch.equal(param.grad, torch.full((3, 2), 2.0))
