"""The upscale op on real weights: tiling is invisible, any scale, grey and 16-bit kept."""
from __future__ import annotations

import numpy as np
import pytest

from photoforge.core.image import ImageData
from photoforge.engine.inference import auto_tile
from photoforge.engine.catalog import get_model
from photoforge.ops.upscale import UpscaleOptions, passes_needed, upscale, upscale_pixels


@pytest.mark.parametrize("model_id", ["span-x4", "realesr-animevideov3-x2", "realesrgan-x4plus"])
def test_tiled_equals_untiled_within_one_level(photo, model_id):
    crop = photo[150:246, 180:300] if model_id != "realesrgan-x4plus" else photo[120:184, 200:280]
    base = dict(model=model_id, device="cpu", precision="fp32", threads=2)
    whole = upscale_pixels(crop, UpscaleOptions(tile=0, **base)).astype(np.int16)
    tiled = upscale_pixels(crop, UpscaleOptions(tile=40, **base)).astype(np.int16)
    assert tiled.shape == whole.shape
    assert np.abs(tiled - whole).max() <= 1  # ≤ 1/255 after rounding to 8 bit


def test_passes_needed():
    assert passes_needed(4, 4) == 1
    assert passes_needed(4, 1.5) == 1
    assert passes_needed(4, 8) == 2
    assert passes_needed(2, 3) == 2
    assert passes_needed(4, 16) == 2


def test_sixteen_bit_precision_survives_the_model(photo):
    # A smooth 16-bit gradient must come back with far more than 256 levels.
    y, x = np.mgrid[0:48, 0:64]
    grad = ((x * 1000 + y * 300) % 65536).astype(np.uint16)
    rgb = np.stack([grad, grad // 2, 65535 - grad], axis=2)
    out = upscale_pixels(rgb, UpscaleOptions(model="span-x2", device="cpu", precision="fp32"))
    assert out.dtype == np.uint16 and out.shape == (96, 128, 3)
    assert len(np.unique(out[..., 0])) > 2000


def test_alpha_is_resized_apart_and_reattached(photo):
    alpha = np.zeros((32, 40), np.uint8)
    alpha[8:24, 10:30] = 255
    image = ImageData(photo[:32, :40].copy(), alpha=alpha, icc_profile=b"icc", exif=b"exif")
    out = upscale(image, UpscaleOptions(model="span-x2", device="cpu", precision="fp32"))
    assert out.alpha.shape == (64, 80) and out.alpha[32, 40] == 255 and out.alpha[2, 2] == 0
    assert out.icc_profile == b"icc" and out.exif == b"exif"


def test_auto_tile_shrinks_for_wide_images_and_little_memory():
    model = get_model("span-x4")
    roomy = auto_tile(model, width=1000, available=16 << 30)
    wide = auto_tile(model, width=40000, available=16 << 30)
    tight = auto_tile(get_model("realesrgan-x4plus"), width=1000, available=256 << 20)
    assert roomy == 512 and wide < roomy and tight < roomy
    assert all(t % 16 == 0 and t >= 64 for t in (roomy, wide, tight))


def test_a_model_may_take_larger_automatic_tiles_where_memory_allows():
    """The damage network is small and needs 112 px of context a side: 512-px tiles ran
    1.8× the pixels; it takes up to 2048 (a 2 MP photo in one piece), still bounded by the
    memory there is."""
    seg = get_model("damage-seg")
    assert seg.max_tile == 2048
    assert auto_tile(seg, width=1920, available=16 << 30) == 2048
    assert auto_tile(get_model("span-x4"), width=1920, available=16 << 30) == 512
    tight = auto_tile(seg, width=1920, available=1 << 30)  # (256 MB / 300 B) ** 0.5 ≈ 946
    assert 512 < tight < 1024 and tight % 16 == 0
