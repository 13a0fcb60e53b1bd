"""What each kind of model takes and gives: typed inputs in, float [0, 1] arrays out.

A descriptor's adapter is the one place that knows a network's feed names, layout (NCHW or
NHWC) and value range (uint8 or float, 0–255 or 0–1), so ops hand over typed inputs and
never guess. Several adapters can share a kind: LaMa and MI-GAN are two encodings of
"image + mask → image", and ops only ever see the kind.

Images given to and returned by every adapter are N×C×H×W float32 RGB in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

import numpy as np

from photoforge.core.image import to_float


class Kind(Enum):
    """The calling contract of a model, i.e. what a caller has to supply."""

    IMAGE = "image → image"
    IMAGE_LEVEL = "image + noise level → image"
    IMAGE_MASK = "image + mask → image"
    IMAGE_STYLE = "image + style → image"
    STYLE_VECTOR = "image → style vector"
    PROBABILITY = "image → probability map"


@dataclass(frozen=True)
class ImageLevelInput:
    image: np.ndarray
    sigma: float  # noise level in 8-bit units (0–255), whatever the image's bit depth


@dataclass(frozen=True)
class ImageMaskInput:
    image: np.ndarray
    hole: np.ndarray  # N×1×H×W, non-zero = to be filled


@dataclass(frozen=True)
class ImageStyleInput:
    image: np.ndarray
    style: np.ndarray  # what the network is conditioned on: style weights or a style vector


def _nhwc(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image.transpose(0, 2, 3, 1), np.float32)


class Adapter:
    """One network's encoding of its kind; the defaults suit a plain image in, array out."""

    kind: ClassVar[Kind]
    channels: ClassVar[int] = 3  # channels of a tiled run's output

    def feeds(self, x: Any) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def output(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(y, np.float32)

    def probe(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """Feeds for a device probe from a plain N×3×H×W image (neutral extras)."""
        return self.feeds(image)

    def stack(self, image: np.ndarray, extra: Any) -> np.ndarray:
        """The H×W×C array a tiled run cuts into tiles (spatial extras ride as channels)."""
        return image

    def tile_input(self, crop: np.ndarray, extra: Any) -> Any:
        """The typed input for one N×C×H×W tile of `stack(…)`."""
        return crop


@dataclass(frozen=True)
class Rgb(Adapter):
    """N×3×H×W RGB in [0, 1] → N×3×(H·s)×(W·s) RGB in [0, 1] (the converted upscalers)."""

    kind: ClassVar[Kind] = Kind.IMAGE
    input: str = "input"

    def feeds(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {self.input: x}


@dataclass(frozen=True)
class RgbLevel(Adapter):
    """FFDNet: image plus σ/255 as an N×1×1×1 map."""

    kind: ClassVar[Kind] = Kind.IMAGE_LEVEL
    probe_sigma: ClassVar[float] = 15.0

    def feeds(self, x: ImageLevelInput) -> dict[str, np.ndarray]:
        level = np.float32(x.sigma / 255.0)
        return {"image": x.image, "sigma": np.full((x.image.shape[0], 1, 1, 1), level, np.float32)}

    def probe(self, image: np.ndarray) -> dict[str, np.ndarray]:
        return self.feeds(ImageLevelInput(image, self.probe_sigma))

    def tile_input(self, crop: np.ndarray, extra: float) -> ImageLevelInput:
        if extra is None:
            raise ValueError("this model needs a noise level σ")
        return ImageLevelInput(crop, float(extra))


class _ImageMask(Adapter):
    kind: ClassVar[Kind] = Kind.IMAGE_MASK

    def probe(self, image: np.ndarray) -> dict[str, np.ndarray]:
        return self.feeds(ImageMaskInput(image, np.zeros((image.shape[0], 1, *image.shape[2:]), np.uint8)))

    def stack(self, image: np.ndarray, extra: np.ndarray) -> np.ndarray:
        if extra is None or extra.shape != image.shape[:2]:
            raise ValueError(f"this model needs a hole mask of {image.shape[1]}×{image.shape[0]}")
        rgb = image if image.dtype == np.float32 else to_float(image)
        return np.dstack([rgb, (extra > 0).astype(np.float32)])

    def tile_input(self, crop: np.ndarray, extra: Any) -> ImageMaskInput:
        return ImageMaskInput(crop[:, :3], crop[:, 3:])


@dataclass(frozen=True)
class Lama(_ImageMask):
    """float32 image in [0, 1] + float32 mask (1 = hole). Exports differ in their output
    range: `output_scale` (1 or 255) is measured once when the model is added."""

    output_scale: float = 1.0
    signature: ClassVar[str] = "lama"

    def feeds(self, x: ImageMaskInput) -> dict[str, np.ndarray]:
        return {"image": x.image.astype(np.float32), "mask": (x.hole > 0).astype(np.float32)}

    def output(self, y: np.ndarray) -> np.ndarray:
        return y.astype(np.float32) / np.float32(self.output_scale)


@dataclass(frozen=True)
class Migan(_ImageMask):
    """uint8 image 0–255 + uint8 mask (255 = keep) → uint8 image 0–255."""

    signature: ClassVar[str] = "migan"

    def feeds(self, x: ImageMaskInput) -> dict[str, np.ndarray]:
        return {"image": (np.clip(x.image, 0, 1) * 255 + 0.5).astype(np.uint8),
                "mask": np.where(x.hole > 0, 0, 255).astype(np.uint8)}

    def output(self, y: np.ndarray) -> np.ndarray:
        return y.astype(np.float32) / 255.0


@dataclass(frozen=True)
class MultiStyle(Adapter):
    """Conditional instance norm (Dumoulin et al.): NCHW image + `styles` weights."""

    kind: ClassVar[Kind] = Kind.IMAGE_STYLE
    styles: int = 26

    def feeds(self, x: ImageStyleInput) -> dict[str, np.ndarray]:
        weights = np.asarray(x.style, np.float32)
        if weights.size != self.styles:
            raise ValueError(f"this network takes {self.styles} style weights, got {weights.size} numbers")
        return {"image": np.ascontiguousarray(x.image, np.float32), "style_weights": weights}

    def probe(self, image: np.ndarray) -> dict[str, np.ndarray]:
        return self.feeds(ImageStyleInput(image, np.eye(self.styles, dtype=np.float32)[0]))

    def tile_input(self, crop: np.ndarray, extra: np.ndarray) -> ImageStyleInput:
        return ImageStyleInput(crop, extra)


# The Magenta graphs keep TensorFlow's tensor names: the predictor's output is the
# transformer's style input.
STYLE_VECTOR_NAME = "mobilenet_conv/Conv/BiasAdd"
STYLE_VECTOR_SIZE = 100


def _style_vector(style: np.ndarray) -> np.ndarray:
    vector = np.asarray(style, np.float32)
    if vector.size != STYLE_VECTOR_SIZE:
        raise ValueError(f"a style vector has {STYLE_VECTOR_SIZE} numbers, got {vector.size}")
    return vector.reshape(1, 1, 1, STYLE_VECTOR_SIZE)


@dataclass(frozen=True)
class ArbitraryStyle(Adapter):
    """Magenta transformer (Ghiasi et al.): NHWC image + a 100-number style vector."""

    kind: ClassVar[Kind] = Kind.IMAGE_STYLE

    def feeds(self, x: ImageStyleInput) -> dict[str, np.ndarray]:
        return {"content_image": _nhwc(x.image), STYLE_VECTOR_NAME: _style_vector(x.style)}

    def output(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(y, np.float32).transpose(0, 3, 1, 2)

    def probe(self, image: np.ndarray) -> dict[str, np.ndarray]:
        return self.feeds(ImageStyleInput(image, np.zeros(STYLE_VECTOR_SIZE, np.float32)))

    def tile_input(self, crop: np.ndarray, extra: np.ndarray) -> ImageStyleInput:
        return ImageStyleInput(crop, extra)


@dataclass(frozen=True)
class StylePredictor(Adapter):
    """Magenta style predictor: an NHWC picture at the model's working size → N×100."""

    kind: ClassVar[Kind] = Kind.STYLE_VECTOR

    def feeds(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {"style_image": _nhwc(x)}

    def output(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(y, np.float32).reshape(len(y), STYLE_VECTOR_SIZE)


@dataclass(frozen=True)
class ProbabilityMap(Adapter):
    """N×3×H×W RGB in [0, 1] named `image` → N×1×H×W float32 probability (the graph's one
    output, `prob` by convention) at the input's scale."""

    kind: ClassVar[Kind] = Kind.PROBABILITY
    channels: ClassVar[int] = 1
    input: str = "image"

    def feeds(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {self.input: np.ascontiguousarray(x, np.float32)}
