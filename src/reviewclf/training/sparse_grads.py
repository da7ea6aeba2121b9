"""Dense gradients from sparse ones, in buffers kept from step to step.

With ``models.use_sparse_gradients`` the embedding tables' backward yields only the rows a batch touched.
Adding those into a kept, zeroed buffer gives exactly the dense gradient (fused Adam then updates every row,
as before), without allocating a fresh table-sized tensor, with its page faults, at every batch.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class DenseGradients:
    def __init__(self) -> None:
        self.buffers: dict[torch.nn.Parameter, torch.Tensor] = {}

    def densify(self, params: Iterable[torch.nn.Parameter]) -> None:
        """Replace every sparse ``.grad`` among ``params`` by its dense equivalent."""
        for param in params:
            grad = param.grad
            if grad is None or not grad.is_sparse:
                continue
            buffer = self.buffers.get(param)
            if buffer is None:
                buffer = self.buffers[param] = torch.zeros_like(param)
            else:
                buffer.zero_()
            rows, values = grad._indices()[0], grad._values()
            # an embedding table's gradient: [rows, columns]. scatter_add gives index_add's sums (each column
            # summed in the rows' order) in less time; one column on the flat view, which runs in parallel
            if buffer.shape[1] == 1:
                buffer.view(-1).scatter_add_(0, rows, values.reshape(-1))
            else:
                buffer.scatter_add_(0, rows[:, None].expand_as(values), values)
            param.grad = buffer
