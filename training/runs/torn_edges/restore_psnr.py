"""The restore part of bench/bench_detector.py (restore_psnr) alone, on the first N photos
of a split: PSNR against the undamaged print after detect + repair, beside Telea on the
true mask, and where the learned restore's error is.

    PYTHONPATH=. python training/runs/torn_edges/restore_psnr.py val2 10
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import bench_detector as bd  # noqa: E402
from training import corpus, data  # noqa: E402

photos = data.split_photos(corpus.DEFAULT_OUT)[sys.argv[1]][:int(sys.argv[2])]
print(json.dumps(bd.restore_psnr(photos, 1, 0.5), indent=1))
