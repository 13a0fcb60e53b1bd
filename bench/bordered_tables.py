"""bench_fade.py's bordered-print tables alone (clean and faded prints with a white paper
border, one line per photo), for a split:

    PYTHONPATH=. python bench/bordered_tables.py train2|val2|train|val
"""
import sys

import cv2

import bench_fade

cv2.setNumThreads(1)
bench_fade.bordered_tables(sys.argv[1], 640, True)
