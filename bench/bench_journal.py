"""What the batch journal costs per file, and Ray against the local engine on the same files.

    PYTHONPATH=. python bench/bench_journal.py journal [--files 20] [--size 1600x1200]
    PYTHONPATH=. python bench/bench_journal.py engines [--files 16] [--size 160x120] [--model span-x2]
                                                       [--device auto] [--reps 1] [--no-ray]

`journal`: the same `adjust --contrast 10` batch of N photo-like PNGs through batch.run_batch
without and with a journal (the CLI's path), best of 3 each; prints the wall time per file of
both and the difference (hashing the input and the output, two durable SQLite commits), and
the time per file of a resume that only checks (every output re-hashed).

`engines`: `photoforge upscale` of N small PNGs in a subprocess, in one process
(`--workers 1`, the local engine before worker processes), with the default local engine
(`--workers auto`: a worker process per core for small photos) and with `--engine ray` (a
local Ray started by the command: ray.init with every CPU), interleaved over reps; wall time
of each, files per second and the throughput ratio against one process; and the time
`ray.init(num_cpus=2)` takes on its own. Needs the model built (`photoforge models fetch
span-x2`) and, for the ray rows, the cluster extra.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from photoforge.app.batch import plan_batch, run_batch  # noqa: E402
from photoforge.engine.progress import Progress  # noqa: E402
from photoforge.app.journal import Journal  # noqa: E402
from photoforge.ops.adjust import Adjustments, adjust_image  # noqa: E402


def make_photos(folder: Path, count: int, width: int, height: int) -> None:
    folder.mkdir(parents=True)
    photo = cv2.imread(str(ROOT / "resources" / "samples" / "astronaut.jpg"))
    for i in range(count):
        crop = np.roll(photo, 37 * i, axis=1)
        cv2.imwrite(str(folder / f"p{i:03d}.png"), cv2.resize(crop, (width, height), interpolation=cv2.INTER_CUBIC))


def bench_journal(args) -> None:
    width, height = map(int, args.size.split("x"))
    base = Path(tempfile.mkdtemp(prefix="bench_journal."))
    try:
        make_photos(base / "in", args.files, width, height)
        settings = Adjustments(contrast=0.1)
        process = lambda image, progress: adjust_image(image, settings, progress)  # noqa: E731
        times = {False: [], True: []}
        for rep in range(3):
            for with_journal in (False, True):
                out = base / f"out{rep}{int(with_journal)}"
                jobs = plan_batch([str(base / "in")], str(out), None).jobs
                start = time.perf_counter()
                if with_journal:
                    with Journal(out) as journal:
                        journal.plan(jobs, {"adjust": settings}, resume=False)
                        run_batch(jobs, process, progress=Progress(), journal=journal)
                else:
                    run_batch(jobs, process, progress=Progress())
                times[with_journal].append((time.perf_counter() - start) / len(jobs))
        plain, journaled = min(times[False]), min(times[True])
        start = time.perf_counter()
        with Journal(out) as journal:
            decision = journal.plan(jobs, {"adjust": settings}, resume=True)
        check = (time.perf_counter() - start) / len(jobs)
        assert len(decision.kept) == len(jobs)
        from photoforge.app.journal import file_hash, fingerprint

        own = []  # the journal's own work for a file, timed alone: what load noise cannot hide
        for rep in range(3):
            with Journal(base / f"alone{rep}") as journal:
                journal.plan(jobs, {"adjust": settings}, resume=False)
                start = time.perf_counter()
                for job in jobs:
                    journal.running(job)
                    source = fingerprint(job.source)
                    journal.done(job, source, file_hash(job.target))
                own.append((time.perf_counter() - start) / len(jobs))
        size = sum(p.stat().st_size for p in (base / "in").iterdir()) / len(jobs) / 1e6
        print(f"{args.files} files of {width}×{height} ({size:.1f} MB PNG each), adjust --contrast 10:")
        print(f"  batch without journal {plain * 1000:7.1f} ms/file")
        print(f"  batch with journal    {journaled * 1000:7.1f} ms/file  (+{(journaled - plain) * 1000:.1f} ms, "
              f"{(journaled / plain - 1) * 100:+.1f} %)")
        print(f"  journal alone         {min(own) * 1000:7.1f} ms/file  (2 commits + sha256 of input and output)")
        print(f"  --resume check        {check * 1000:7.1f} ms/file  (all done: outputs re-hashed)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


ENGINES = {  # label → the options that select it
    "one process": ["--engine", "local", "--workers", "1"],
    "workers": ["--engine", "local"],  # the default: --workers auto
    "ray": ["--engine", "ray"],
}


def bench_engines(args) -> None:
    width, height = map(int, args.size.split("x"))
    base = Path(tempfile.mkdtemp(prefix="bench_engines."))
    engines = [e for e in ENGINES if e != "ray" or not args.no_ray]
    try:
        make_photos(base / "in", args.files, width, height)
        if "ray" in engines:
            code = "import time, ray; t = time.perf_counter(); ray.init(num_cpus=2, include_dashboard=False); " \
                   "print(time.perf_counter() - t); ray.shutdown()"
            start_time = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                              check=True).stdout.split()[-1])
            print(f"ray.init(num_cpus=2): {start_time:.1f} s (included in the ray rows)")
        walls: dict[str, list[float]] = {e: [] for e in engines}
        for rep in range(args.reps):  # interleaved: the machine's load drifts
            for engine in engines:
                out = base / f"{engine.replace(' ', '_')}{rep}"
                cmd = [sys.executable, "-m", "photoforge", "upscale", str(base / "in"), "-o", str(out),
                       "--model", args.model, "--device", args.device, *ENGINES[engine]]
                start = time.perf_counter()
                result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
                walls[engine].append(time.perf_counter() - start)
                assert result.returncode == 0, result.stderr[-2000:]
                workers = [line for line in result.stderr.splitlines() if "worker" in line and "notice" in line]
                print(f"rep {rep} {engine:>11}: {walls[engine][-1]:6.1f} s  {workers[0] if workers else ''}")
        print(f"{args.files} files of {width}×{height}, upscale --model {args.model} --device {args.device}, "
              f"{os.cpu_count()} CPUs, whole processes (start and model build included):")
        base_wall = walls["one process"]
        for engine in engines:
            ratios = sorted(b / w for b, w in zip(base_wall, walls[engine]))
            print(f"  {engine:>11}: {min(walls[engine]):6.1f} s best, {args.files / min(walls[engine]):.2f} files/s;"
                  f" throughput ×{ratios[len(ratios) // 2]:.2f} the one-process engine (per rep: "
                  f"{', '.join(f'{r:.2f}' for r in ratios)})")
        first = engines[0]
        same = all((base / f"{e.replace(' ', '_')}0" / "in" / p.name).read_bytes()
                   == (base / f"{first.replace(' ', '_')}0" / "in" / p.name).read_bytes()
                   for e in engines for p in (base / "in").iterdir())
        print(f"outputs identical across engines: {same}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    j = sub.add_parser("journal")
    j.add_argument("--files", type=int, default=20)
    j.add_argument("--size", default="1600x1200")
    e = sub.add_parser("engines")
    e.add_argument("--files", type=int, default=16)
    e.add_argument("--size", default="160x120")
    e.add_argument("--model", default="span-x2")
    e.add_argument("--device", default="auto")
    e.add_argument("--reps", type=int, default=1)
    e.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    bench_journal(args) if args.what == "journal" else bench_engines(args)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    main()
