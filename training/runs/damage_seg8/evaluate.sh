#!/bin/bash
# damage_seg8 against the shipped pair, by decision_rule.md: export, the pair with damage_seg8 in
# damage_seg6's place, its threshold at equal clean flags, then (in a worktree holding the
# candidate as the shipped model) the check2 restore per photo, check2 F1 and the test suite.
#   bash training/runs/damage_seg8/evaluate.sh   (from the repository root, venv active)
set -euo pipefail
R=training/runs/damage_seg8
ROOT=$PWD
python -m training.export_damage --run $R --out $R/damage_seg8.onnx --prior-minutes 65.6 > $R/export.log 2>&1
python -m training.pair_models training/runs/damage_seg5/damage_seg5.onnx $R/damage_seg8.onnx /tmp/pair8.onnx --threshold 0.5
PYTHONPATH=. python training/runs/ensemble/choose_threshold.py /tmp/pair8.onnx | tee $R/choose_threshold.log
T=$(grep -o "pair at t [0-9.]*" $R/choose_threshold.log | awk '{print $4}')
WT=/tmp/wt-seg8
git worktree remove --force $WT 2>/dev/null || true
git worktree add -f --detach $WT HEAD
python -m training.pair_models training/runs/damage_seg5/damage_seg5.onnx $R/damage_seg8.onnx $WT/photoforge/models/damage_seg.onnx \
  --threshold "$T" --tuned-on "the lowest threshold at which the post-processed mask flags no more clean pixels than damage_seg5 with flip TTA at its card's threshold, on the 40 check2 and 5 tuning photos, as stored and aged (training/runs/ensemble/choose_threshold.py)"
SHA=$(sha256sum $WT/photoforge/models/damage_seg.onnx | cut -d' ' -f1)
OLD=$(python -c "import json; print(json.load(open('photoforge/models/damage_seg.json'))['sha256'])")
sed -i "s/$OLD/$SHA/" $WT/photoforge/engine/registry.py
cd $WT
PYTHONPATH=. python training/runs/restore_gap/per_photo.py check2 20 > $ROOT/$R/per_photo_check2_20.log 2>&1
PYTHONPATH=. python bench/bench_detector.py --split check2 --seeds 1 --no-classical > $ROOT/$R/bench_check2_pair8.log 2>&1
QT_QPA_PLATFORM=offscreen PYTHONPATH=. python -m pytest -q -p no:cacheprovider tests > $ROOT/$R/tests_with_pair8.log 2>&1
cd $ROOT
git worktree remove --force $WT
