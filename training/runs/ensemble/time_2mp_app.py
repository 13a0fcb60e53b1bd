"""2 MP detection through the app (find_damage_mask, engine tiler, fp32, device cpu): the
shipped pair (the default, no TTA) and the classical detector, interleaved, median of 5 after a
warm-up. damage_seg5 with flip TTA, as shipped before, is the same two passes of the same
network size (training/runs/tta/time_2mp_app.py timed it: 0.86 s).

    PYTHONPATH=. python training/runs/ensemble/time_2mp_app.py
"""
import subprocess
import time

import cv2
import numpy as np

from photoforge.ops.learned_damage import find_damage_mask
from training import corpus, data

rgb = data.load_rgb(data.split_photos(corpus.DEFAULT_OUT)["val"][0]["path_on_disk"])
two = cv2.resize(rgb, (1920, 1080), interpolation=cv2.INTER_AREA)
runs = {"pair": lambda: find_damage_mask(two, detector="learned", device="cpu", precision="fp32"),
        "classical": lambda: find_damage_mask(two, detector="classical")}
ts = {k: [] for k in runs}
for fn in runs.values():
    fn()
for _ in range(5):
    for k, fn in runs.items():
        t = time.perf_counter()
        fn()
        ts[k].append(time.perf_counter() - t)
med = {k: float(np.median(v)) for k, v in ts.items()}
cpu = next(l for l in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
           if l.startswith("Model name"))
print(cpu)
print("all runs (s): " + "  ".join(f"{k} " + ",".join(f"{t:.2f}" for t in v) for k, v in ts.items()))
print(f"2 MP detection, median of 5: pair {med['pair']:.2f} s, classical {med['classical']:.2f} s, "
      f"ratio {med['pair'] / med['classical']:.2f}x")
