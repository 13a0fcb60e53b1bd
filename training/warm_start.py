"""Starts a DamageNet from an exported ONNX file (the shipped model), so a new run continues
from the previous one instead of from random weights.

The export fused each BatchNorm into the convolution before it, so the ONNX file has only
convolution weights (in forward order). They are loaded into the convolutions and every
BatchNorm is set to pass its input through unchanged: running mean/var = the batch's own
statistics on a calibration batch, weight = √(var + eps), bias = mean. In eval mode that
is exactly the identity for any input (the network then equals the ONNX file); in train
mode it is the identity on the calibration batch and close to it on others, so training
resumes from the shipped behaviour.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.model import DamageNet


def _onnx_conv_weights(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(path))
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    return [(init[n.input[1]], init[n.input[2]]) for n in m.graph.node if n.op_type == "Conv"]


def _convs_in_forward_order(model: DamageNet) -> list[nn.Conv2d]:
    seen: list[nn.Conv2d] = []
    hooks = [c.register_forward_hook(lambda mod, i, o: seen.append(mod))
             for c in model.modules() if isinstance(c, nn.Conv2d)]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, 32, 32))
    for h in hooks:
        h.remove()
    return seen


@torch.no_grad()
def from_onnx(model: DamageNet, path: Path, calibration: torch.Tensor) -> DamageNet:
    """Loads `path`'s weights into `model` (same widths) and calibrates its BatchNorms on
    `calibration` (N×3×H×W in [0, 1], real training crops: BatchNorm in train mode
    normalises by each batch's statistics, so they must be like the batches to come);
    returns the model."""
    convs = _convs_in_forward_order(model)
    weights = _onnx_conv_weights(path)
    if len(weights) != len(convs):
        raise ValueError(f"{path}: {len(weights)} convolutions, the model has {len(convs)}")
    for conv, (w, b) in zip(convs, weights):
        if tuple(conv.weight.shape) != w.shape:
            raise ValueError(f"{path}: a convolution of shape {w.shape} where the model has "
                             f"{tuple(conv.weight.shape)}; pass the widths it was trained with")
        conv.weight.copy_(torch.from_numpy(w.copy()))
        conv.bias.copy_(torch.from_numpy(b.copy()))

    def identity_on_batch(bn: nn.BatchNorm2d, args):
        x = args[0]
        mean = x.mean((0, 2, 3))
        var = x.var((0, 2, 3), unbiased=False)
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.weight.copy_(torch.sqrt(var + bn.eps))
        bn.bias.copy_(mean)

    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    hooks = [bn.register_forward_pre_hook(identity_on_batch) for bn in bns]
    momentum = [bn.momentum for bn in bns]
    for bn in bns:
        bn.momentum = 0.0  # the calibration pass must not move the running statistics
    model.train()
    model(calibration)
    for h, bn, mom in zip(hooks, bns, momentum):
        h.remove()
        bn.momentum = mom
    return model
