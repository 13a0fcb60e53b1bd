"""The damage-segmentation network (torch; used for training and export only).

A small U-Net that never convolves at full resolution: the input is pixel-unshuffled to
half resolution (3 → 12 channels, no information lost) and the output is pixel-shuffled
back (4 logits per half-res pixel → 1 per pixel). Full-resolution convolutions cost 4× as
much per layer and, on 2 CPU cores, are what would blow the 2 MP time budget; the unshuffle
keeps 1 px scratches resolvable because each half-res position still sees its 4 pixels.
Deeper levels (¼, ⅛, 1/16) give the context that tells a crack from a branch or a whisker.
Sigmoid is inside the graph so the exported file outputs a probability.
"""
from __future__ import annotations

import torch
from torch import nn

DOWNSAMPLE = 16  # input H and W must be multiples of this (1 unshuffle + 3 poolings)


def _block(cin: int, cout: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class DamageNet(nn.Module):
    def __init__(self, widths=(24, 32, 48, 64)):
        super().__init__()
        w1, w2, w3, w4 = widths
        self.unshuffle = nn.PixelUnshuffle(2)
        self.enc1 = _block(12, w1)
        self.enc2 = _block(w1, w2)
        self.enc3 = _block(w2, w3)
        self.mid = _block(w3, w4, dilation=2)
        self.pool = nn.MaxPool2d(2)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.dec3 = _block(w4 + w3, w3)
        self.dec2 = _block(w3 + w2, w2)
        self.dec1 = _block(w2 + w1 + 12, w1)
        self.head = nn.Conv2d(w1, 4, 1)
        self.shuffle = nn.PixelShuffle(2)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        x0 = self.unshuffle(x)
        e1 = self.enc1(x0)
        e2 = self.enc2(self.pool(e1))
        e3 = self.enc3(self.pool(e2))
        m = self.mid(self.pool(e3))
        d3 = self.dec3(torch.cat([self.up(m), e3], 1))
        d2 = self.dec2(torch.cat([self.up(d3), e2], 1))
        d1 = self.dec1(torch.cat([self.up(d2), e1, x0], 1))
        return self.shuffle(self.head(d1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def export_onnx(model: nn.Module, path, opset: int = 17) -> None:
    """N×3×H×W float32 RGB in [0, 1] named `image` → N×1×H×W probability named `prob`."""
    model.eval()
    dummy = torch.rand(1, 3, 128, 128)
    torch.onnx.export(model, dummy, str(path), input_names=["image"], output_names=["prob"], opset_version=opset,
                      dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}, "prob": {0: "n", 2: "h", 3: "w"}},
                      dynamo=False)
