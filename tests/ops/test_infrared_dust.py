"""Dust and scratch masks from an infrared channel, on synthetic RGBI scans with drawn truth."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from photoforge.core.image import ImageData
from photoforge.ops.infrared_dust import infrared_defects, infrared_dust_mask, without_ghost
from photoforge.ops.restore import PRESETS, find_damage, restore
from tests.infrared_synth import f1, rgbi_scan

REPAIR_ONLY = replace(PRESETS["standard"], device="cpu", denoise=False, color=False)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("ghost", [0.0, 0.15])
def test_the_mask_matches_the_drawn_dust(photo, seed, ghost):
    scan = rgbi_scan(photo, seed, ghost=ghost)
    found = infrared_defects(scan.infrared, scan.damaged)
    assert f1(found, scan.truth) > 0.95
    repair = infrared_dust_mask(scan.infrared, scan.damaged) > 0
    assert (repair & scan.truth).sum() == scan.truth.sum()  # grown: every defect pixel is covered
    assert repair.mean() < 3 * scan.truth.mean()  # "slightly": not a blanket


def test_the_ghost_of_the_photo_is_taken_out(photo):
    scan = rgbi_scan(photo, 2, ghost=0.3, specks=0)
    lum = photo.astype(np.float32) @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    clean_area = ~(infrared_dust_mask(scan.infrared, scan.damaged, grow_px=3) > 0)
    before = abs(np.corrcoef(scan.infrared[clean_area], lum[clean_area])[0, 1])
    after = abs(np.corrcoef(without_ghost(scan.infrared, scan.damaged)[clean_area], lum[clean_area])[0, 1])
    assert before > 0.8 and after < 0.2


def test_a_clean_infrared_finds_nothing(photo):
    scan = rgbi_scan(photo, 3, specks=0)
    flat = scan.infrared + scan.opacity * 0.9 * 0.8  # the defects taken back out of the channel
    assert infrared_defects(np.clip(flat, 0, 1), scan.clean).mean() < 0.001


def test_restore_repairs_from_the_infrared(photo):
    scan = rgbi_scan(photo, 4)
    result = restore(ImageData(scan.damaged), REPAIR_ONLY, infrared=scan.infrared)
    t = scan.truth
    err_before = np.abs(scan.damaged[t].astype(int) - photo[t]).mean()
    err_after = np.abs(result.image.pixels[t].astype(int) - photo[t]).mean()
    assert err_after < err_before / 4
    untouched = result.damage == 0
    assert np.array_equal(result.image.pixels[untouched], scan.damaged[untouched])
    assert np.array_equal(find_damage(ImageData(scan.damaged), REPAIR_ONLY, infrared=scan.infrared),
                          result.damage)


def test_sixteen_bit_scans_are_measured_the_same(photo):
    scan = rgbi_scan((photo.astype(np.uint16) * 257), 5)
    assert f1(infrared_defects(scan.infrared, scan.damaged), scan.truth) > 0.95


def test_an_infrared_of_another_size_is_refused(photo):
    scan = rgbi_scan(photo, 0)
    with pytest.raises(ValueError, match="infrared channel is 511×512, the image 512×512"):
        restore(ImageData(scan.damaged), REPAIR_ONLY, infrared=scan.infrared[:, :511])


def test_a_grey_scan_is_repaired_from_its_infrared(photo):
    grey = np.rint(photo.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)
    scan = rgbi_scan(np.repeat(grey[..., None], 3, axis=2), 7)
    damaged, clean = scan.damaged[..., :1], scan.clean[..., :1]
    assert f1(infrared_defects(scan.infrared, damaged), scan.truth) > 0.95
    result = restore(ImageData(damaged), REPAIR_ONLY, infrared=scan.infrared)
    t = scan.truth
    assert result.image.pixels.shape == damaged.shape
    assert np.abs(result.image.pixels[t].astype(int) - clean[t]).mean() < \
        np.abs(damaged[t].astype(int) - clean[t]).mean() / 4
