"""2 MP detection through the app (find_damage_mask, engine tiler, fp32, device cpu): the
shipped pair (the default, no TTA) and the classical detector, interleaved, median of 5 after a
warm-up. damage_seg5 with flip TTA, as shipped before, is the same two passes of the same
network size (training/runs/tta/time_2mp_app.py timed it: 0.86 s).

    PYTHONPATH=. python training/runs/ensemble/time_2mp_app.py
"""
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from bench_detector import cpu_model, interleaved_times  # noqa: E402

from photoforge.ops.learned_damage import find_damage_mask  # noqa: E402
from training import corpus, data  # noqa: E402

rgb = data.load_rgb(data.split_photos(corpus.DEFAULT_OUT)["val"][0]["path_on_disk"])
two = cv2.resize(rgb, (1920, 1080), interpolation=cv2.INTER_AREA)
med = interleaved_times({"pair": lambda: find_damage_mask(two, detector="learned", device="cpu", precision="fp32"),
                         "classical": lambda: find_damage_mask(two, detector="classical")}, reps=5)
print(cpu_model())
print(f"2 MP detection, median of 5: pair {med['pair']:.2f} s, classical {med['classical']:.2f} s, "
      f"ratio {med['pair'] / med['classical']:.2f}x")
