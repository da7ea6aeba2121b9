"""Export: run directory -> verified bundle (ONNX, TorchScript, optional int8 and torch.export program)."""
